import { randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { ExecutorInfoSchema, type ExecutorRegistryService } from "@reins/proto";
import type { Logger } from "@reins/service-kit";

/** What the executor reports at each heartbeat: read anew every time, so the load is live. */
export type ExecutorReport = Omit<
  MessageInitShape<typeof ExecutorInfoSchema>,
  "id" | "incarnation" | "draining" | "registeredTime" | "heartbeatTime" | "$typeName"
>;

export interface RegistrationOptions {
  readonly client: Client<typeof ExecutorRegistryService>;
  readonly id: string;
  readonly report: () => ExecutorReport | Promise<ExecutorReport>;
  readonly log: Logger;
  /** First retry after a failed heartbeat; doubles up to maxBackoffMs. Default 250 ms. */
  readonly minBackoffMs?: number;
  /** Default 10 s, and never longer than the registry's heartbeat interval. */
  readonly maxBackoffMs?: number;
  /** Per heartbeat and deregistration. Default 5 s. */
  readonly callTimeoutMs?: number;
}

export interface Registration {
  /** Random per process: the registry tells a restarted host from the one before by it. */
  readonly incarnation: string;
  /** As the registry's latest answer said. */
  readonly draining: boolean;
  /**
   * Sends the first heartbeat, then keeps heartbeating. Throws
   * RegistrationRefusedError when the registry refuses this executor (unknown
   * token, a token bound to another id, an entry it rejects): retrying cannot
   * help until the configuration changes. A registry that does not answer is
   * not an error: the executor serves calls and heartbeats retry with backoff.
   */
  start(): Promise<void>;
  /** Stops heartbeating and removes this incarnation's entry. Never throws. */
  stop(): Promise<void>;
}

/** The registry said no, with a reason only the configuration can fix. */
export class RegistrationRefusedError extends Error {
  override readonly name = "RegistrationRefusedError";
  constructor(
    message: string,
    readonly code: Code,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const refusals = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.InvalidArgument]);
// Until the registry answers with its own.
const defaultIntervalMs = 5_000;

export function createRegistration(options: RegistrationOptions): Registration {
  const { client, id, log } = options;
  const incarnation = randomUUID();
  const minBackoffMs = options.minBackoffMs ?? 250;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const callTimeoutMs = options.callTimeoutMs ?? 5_000;
  let intervalMs = defaultIntervalMs;
  let draining = false;
  let failures = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  async function heartbeat(): Promise<void> {
    const executor = create(ExecutorInfoSchema, { ...(await options.report()), id, incarnation });
    const res = await client.heartbeat({ executor }, { timeoutMs: callTimeoutMs });
    if (res.heartbeatInterval) intervalMs = Math.max(100, durationMs(res.heartbeatInterval));
    if (res.draining !== draining) {
      draining = res.draining;
      log.info(
        { executor: id, draining },
        draining
          ? "drained by an operator: no new sessions are placed here; running calls finish"
          : "no longer draining (taken back, or its entry expired and registered anew): sessions are placed here again",
      );
    }
    if (failures > 0) log.info({ executor: id, failures }, "registry reached again: registered");
    failures = 0;
  }

  function schedule(ms: number): void {
    if (stopped) return;
    timer = setTimeout(tick, ms);
    // Heartbeats alone never keep the process alive: the server does.
    timer.unref();
  }

  function tick(): void {
    inFlight = heartbeat().then(
      () => schedule(intervalMs),
      (err: unknown) => {
        failures++;
        const e = ConnectError.from(err);
        // A refusal after a good start (a token revoked, say) is worth an error
        // line at every attempt; an outage a line now and then.
        if (refusals.has(e.code)) {
          log.error({ executor: id, code: Code[e.code], err: e.rawMessage }, "registry refuses this executor");
        } else if (failures === 1 || failures % 20 === 0) {
          log.warn({ executor: id, failures, code: Code[e.code], err: e.rawMessage }, "cannot reach the registry");
        }
        const backoff = Math.min(maxBackoffMs, intervalMs, minBackoffMs * 2 ** Math.min(failures - 1, 16));
        schedule(backoff * (0.5 + Math.random() / 2));
      },
    );
  }

  return {
    incarnation,
    get draining() {
      return draining;
    },
    async start() {
      try {
        await heartbeat();
        log.info({ executor: id, incarnation, heartbeatIntervalMs: intervalMs }, "registered");
        schedule(intervalMs);
      } catch (err) {
        const e = ConnectError.from(err);
        if (refusals.has(e.code)) {
          throw new RegistrationRefusedError(
            `the registry refused executor ${JSON.stringify(id)} (${Code[e.code]}): ${e.rawMessage}`,
            e.code,
            { cause: err },
          );
        }
        failures = 1;
        log.warn(
          { executor: id, code: Code[e.code], err: e.rawMessage },
          "cannot reach the registry: serving calls, registering when it answers",
        );
        schedule(minBackoffMs);
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      // A heartbeat still on its way would put the entry back after the removal.
      await inFlight;
      try {
        const { removed } = await client.deregister({ id, incarnation }, { timeoutMs: callTimeoutMs });
        log.info({ executor: id, removed }, "deregistered");
      } catch (err) {
        const e = ConnectError.from(err);
        log.warn(
          { executor: id, code: Code[e.code], err: e.rawMessage },
          "cannot deregister: the entry goes at the end of its TTL",
        );
      }
    },
  };
}
