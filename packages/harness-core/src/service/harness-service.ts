import { createHash } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  type AgentConfig,
  AgentConfigSchema,
  EventSchema,
  type HarnessService,
  RunState,
  StopReason,
} from "@reins/proto";
import { currentTraceId, eventIdProblem, validateSessionId } from "@reins/service-kit";
import { uuidv7 } from "uuidv7";
import { contextPolicyProblem } from "../context/index.js";
import { harnessErrorToConnect, OwnershipLostError } from "../errors.js";
import type { HarnessMetrics } from "../harness-metrics.js";
import {
  createSessionFold,
  createSessionLog,
  loadSession,
  type SessionClient,
  type SessionFold,
  sessionStatus,
  syntheticResult,
  userInterrupt,
  userMessage,
} from "../log/index.js";
import type { DeltaBus } from "../model/index.js";
import { notRun, outcomeUnknown } from "../model/index.js";
import { type Placement, selectorProblem } from "../placement/index.js";
import type { ExecutorPool } from "../tools/index.js";
import { customToolsProblem, lookUpTools, permissionsProblem } from "../tools/index.js";
import type { SessionRunner } from "../wake/index.js";
import { creatorTenant, sessionsFor } from "./access.js";
import { listToolCatalog } from "./list-tool-catalog.js";
import { streamRun } from "./run-stream.js";
import { streamText } from "./text-stream.js";
import { answerToolCall } from "./tool-actions.js";

export interface HarnessServiceDeps {
  readonly sessions: SessionClient;
  readonly executors: ExecutorPool;
  /** Where recorded work goes: this process's runner, or anything that hands the
   * session to some replica (e.g. a wake work queue) and stops a local run. */
  readonly runner: Pick<SessionRunner, "kick" | "stop" | "isRunning">;
  /** Live text for RunSession; without it RunSession streams events only. */
  readonly deltas?: DeltaBus;
  /** Used when a request's config names no model. */
  readonly defaultModel?: string;
  /** Aborted when the daemon shuts down: RunSession streams end (their runs stay resumable). */
  readonly closing?: AbortSignal;
  /** Registry mode: sessions without an executor address are placed, and their catalog read from a live executor. */
  readonly placement?: Placement;
  /** Where the results clients send for custom tools are counted (kind "custom"). */
  readonly metrics?: HarnessMetrics;
}

interface Recorded {
  readonly sessionId: string;
  readonly messageSeq: bigint;
  /** The session as just written, if nothing else was: the run starts from it without reading the log. */
  readonly fold: SessionFold | undefined;
}

interface StartInput {
  readonly config?: AgentConfig;
  readonly message: string;
  readonly title: string;
  readonly sessionId: string;
}

/**
 * HarnessService: each RPC records what the user asked in the log, then hands
 * the session to the runner; nothing is kept here that the log does not hold.
 * What a call reads and writes goes through `sessionsFor(ctx)`: confined to the
 * caller's tenant when it has one (see access.ts).
 */
export function createHarnessServiceImpl(deps: HarnessServiceDeps): ServiceImpl<typeof HarnessService> {
  const { runner } = deps;

  // Creates the session and records its first message with a running status;
  // the run is not started.
  async function record(
    input: StartInput,
    sessions: SessionClient,
    tenant: string,
    signal: AbortSignal,
  ): Promise<Recorded> {
    if (input.sessionId !== "") validateSessionId(input.sessionId);
    requireText(input.message, "message");
    const ids = startEventIds(input);
    const config = await completeConfig(input.config, tenant, signal);
    const traceId = currentTraceId();
    const initialEvents = [
      create(EventSchema, { id: ids.message, traceId, payload: userMessage(input.message) }),
      create(EventSchema, { id: ids.running, traceId, payload: sessionStatus(RunState.RUNNING) }),
    ];
    // The session, its first message and its running status in one write: one
    // round trip, and a session that never exists without its message.
    const created = await sessions.createSession(
      { sessionId: input.sessionId, config, title: input.title, eventId: ids.created, tenant, initialEvents },
      { signal },
    );
    const sessionId = created.session?.sessionId ?? input.sessionId;
    const fold = createSessionFold(sessionId, created.event ? [created.event] : []);
    if (created.initialEvents.length === initialEvents.length) {
      for (const event of created.initialEvents) fold.apply(event);
      // A retried StartSession may find a log that has moved on since.
      const current = fold.lastSeq === created.session?.lastSeq;
      return { sessionId, messageSeq: created.initialEvents[0]?.seq ?? 0n, fold: current ? fold : undefined };
    }
    // A session service that predates initial_events created the session alone.
    const log = createSessionLog({ client: sessions, fold });
    const [event] = await log.appendEvents(initialEvents).catch(async (err: unknown) => {
      // The log refused the first message (e.g. too large): a session without it
      // is half a StartSession, so remove what this call created.
      if (ConnectError.from(err).code === Code.InvalidArgument) {
        await sessions.deleteSession({ sessionId }, { signal }).catch(() => undefined);
      }
      throw err;
    });
    // A retried StartSession finds its events already written, and a log that may have moved on.
    return { sessionId, messageSeq: event?.seq ?? 0n, fold: log.current ? fold : undefined };
  }

  // The tools a session runs, then what its client runs and which calls wait for a confirmation.
  async function completeConfig(
    given: AgentConfig | undefined,
    tenant: string,
    signal: AbortSignal,
  ): Promise<AgentConfig> {
    const config = await resolveConfigTools(given, tenant, signal);
    const problem = customToolsProblem(config) || permissionsProblem(config);
    if (problem) throw new ConnectError(problem, Code.InvalidArgument);
    return config;
  }

  async function resolveConfigTools(
    given: AgentConfig | undefined,
    tenant: string,
    signal: AbortSignal,
  ): Promise<AgentConfig> {
    if (!given) throw new ConnectError("config is required", Code.InvalidArgument);
    const config = create(AgentConfigSchema, given);
    config.model ||= deps.defaultModel ?? "";
    if (config.model === "") throw new ConnectError("config.model is required", Code.InvalidArgument);
    const policyProblem = contextPolicyProblem(config.contextPolicy);
    if (policyProblem) throw new ConnectError(policyProblem, Code.InvalidArgument);
    if (config.executorAddress !== "" && !URL.canParse(config.executorAddress)) {
      throw new ConnectError(
        `config.executor_address ${JSON.stringify(config.executorAddress)} is not a URL (e.g. http://127.0.0.1:7003)`,
        Code.InvalidArgument,
      );
    }
    if (config.executorAddress !== "") {
      try {
        deps.executors.resolve(config.executorAddress);
      } catch (err) {
        throw new ConnectError(`config.executor_address: ${ConnectError.from(err).rawMessage}`, Code.InvalidArgument);
      }
    }
    const badSelector = selectorProblem(config.executorSelector);
    if (badSelector) throw new ConnectError(badSelector, Code.InvalidArgument);
    config.toolDefinitions.forEach((d, i) => {
      requireSchema(d.inputSchemaJson, `config.tool_definitions[${i}].input_schema_json`);
    });
    if (config.toolDefinitions.length > 0) {
      if (config.tools.length === 0) config.tools = config.toolDefinitions.map((d) => d.name);
      return config;
    }
    if (config.tools.length === 0) return config;
    const read = (address: string) => lookUpTools(config.tools, address, tenant, deps.executors, signal);
    try {
      config.toolDefinitions = await fromCatalogHost(config, tenant, read);
    } catch (err) {
      const e = ConnectError.from(err);
      // No live executor fits the session: said as the placement says it.
      if (e.code === Code.FailedPrecondition && placed(config)) throw e;
      if (e.code === Code.InvalidArgument)
        throw new ConnectError(`config.tools: ${e.rawMessage}`, Code.InvalidArgument);
      if (e.code === Code.FailedPrecondition) {
        throw new ConnectError("config.tools names tools but no executor address is configured", Code.InvalidArgument);
      }
      throw new ConnectError(`cannot read the tool catalog: ${e.rawMessage}`, e.code, undefined, undefined, e);
    }
    return config;
  }

  const placed = (config: AgentConfig) => config.executorAddress === "" && deps.placement !== undefined;

  // A session to be placed reads its catalog from a live executor that has its tools and labels.
  async function fromCatalogHost<T>(config: AgentConfig, tenant: string, read: (address: string) => Promise<T>) {
    if (!deps.placement || !placed(config)) return read(config.executorAddress);
    const tools = config.tools.filter((name) => deps.executors.kindOf?.(name, tenant) === undefined);
    return deps.placement.fromFittingHost({ tools, selector: config.executorSelector }, read);
  }

  const guarded =
    <Req, Res>(fn: (req: Req, signal: AbortSignal, sessions: SessionClient, ctx: HandlerContext) => Promise<Res>) =>
    async (req: Req, ctx: HandlerContext): Promise<Res> => {
      try {
        return await fn(req, ctx.signal, sessionsFor(deps.sessions, ctx), ctx);
      } catch (err) {
        throw harnessErrorToConnect(err);
      }
    };

  return {
    startSession: guarded(async (req, signal, sessions, ctx) => {
      const { sessionId, fold } = await record(req, sessions, creatorTenant(ctx), signal);
      runner.kick(sessionId, fold);
      return { sessionId };
    }),

    sendMessage: guarded(async (req, signal, sessions) => {
      validateSessionId(req.sessionId);
      requireText(req.message, "message");
      const badEventId = eventIdProblem(req.eventId, "event_id");
      if (badEventId) throw new ConnectError(badEventId, Code.InvalidArgument);
      const fold = await loadSession(sessions, req.sessionId, signal);
      const already = req.eventId ? fold.seqOf(req.eventId) : undefined;
      if (already !== undefined) return { seq: already };
      if (fold.runState === RunState.TERMINATED) {
        throw new ConnectError(`session ${req.sessionId} is terminated`, Code.FailedPrecondition);
      }
      // The model must read every tool call's result before anything the user says next.
      if (fold.next() === "waiting") {
        const ids = fold.pendingCalls().map((c) => c.toolUse.id);
        throw new ConnectError(
          `session ${req.sessionId} waits for tool calls ${ids.join(", ")}: answer them (ConfirmToolUse, SendCustomToolResult) or Interrupt it`,
          Code.FailedPrecondition,
        );
      }
      // A rescheduled turn is still the current turn: it has its wake, due later.
      const busy =
        fold.runState === RunState.RESCHEDULING || (fold.runState === RunState.RUNNING && fold.next() !== "idle");
      if (runner.isRunning(req.sessionId) || busy) {
        throw new ConnectError(
          `session ${req.sessionId} is running a turn: wait until it is idle, or Interrupt it`,
          Code.FailedPrecondition,
        );
      }
      const log = createSessionLog({ client: sessions, fold });
      const [event] = await log.appendEvents([
        create(EventSchema, { id: req.eventId || uuidv7(), payload: userMessage(req.message) }),
        create(EventSchema, { id: uuidv7(), payload: sessionStatus(RunState.RUNNING) }),
      ]);
      runner.kick(req.sessionId, log.current ? fold : undefined);
      return { seq: event?.seq ?? 0n };
    }),

    wake: guarded(async (req, signal, sessions) => {
      validateSessionId(req.sessionId);
      // The log read here (NOT_FOUND for an unknown session) is the one the run starts from.
      let fold = await loadSession(sessions, req.sessionId, signal);
      let known: SessionFold | undefined = fold;
      if (fold.failed) {
        // Stopped by an error that no wake of its own gets past: the client's Wake
        // is the new input that asks for another try, recorded so any replica sees it.
        const log = createSessionLog({ client: sessions, fold });
        try {
          await log.append(sessionStatus(RunState.RUNNING));
          if (!log.current) known = undefined;
        } catch (err) {
          // Another writer moved the session meanwhile: what it wrote decides.
          if (!(err instanceof OwnershipLostError)) throw err;
          fold = await loadSession(sessions, req.sessionId, signal);
          known = fold;
        }
      }
      runner.kick(req.sessionId, known);
      return { lastSeq: fold.lastSeq };
    }),

    interrupt: guarded(async (req, signal, sessions) => {
      validateSessionId(req.sessionId);
      // Not the caller's session (or none): NOT_FOUND before anything is stopped.
      if (sessions !== deps.sessions) await sessions.getSession({ sessionId: req.sessionId }, { signal });
      await runner.stop(req.sessionId);
      // Another writer (a replica mid-append) may move the log between our read
      // and our write; re-read and try again a few times.
      for (let attempt = 1; ; attempt++) {
        const fold = await loadSession(sessions, req.sessionId, signal);
        if (fold.runState === RunState.TERMINATED) {
          throw new ConnectError(`session ${req.sessionId} is terminated`, Code.FailedPrecondition);
        }
        if (fold.next() === "idle" && fold.runState !== RunState.RUNNING) {
          throw new ConnectError(
            `session ${req.sessionId} is idle: there is no turn to interrupt`,
            Code.FailedPrecondition,
          );
        }
        // The model must never see a tool_use without its result: close every open call.
        const step = fold.next();
        const open =
          step === "tools" || step === "waiting" ? fold.openCalls().filter((c) => c.result === undefined) : [];
        const results = open.map((c) => syntheticResult(c.toolUse, c.startedEventId ? outcomeUnknown : notRun));
        try {
          const written = await createSessionLog({ client: sessions, fold }).append(
            ...results,
            userInterrupt(req.reason),
            sessionStatus(RunState.IDLE, StopReason.INTERRUPTED, req.reason),
          );
          return { seq: written.find((e) => e.payload.case === "userInterrupt")?.seq ?? 0n };
        } catch (err) {
          if (!(err instanceof OwnershipLostError) || attempt >= 5) throw err;
        }
      }
    }),

    listToolCatalog: guarded(async (req, signal, _sessions, ctx) =>
      req.executorAddress === "" && deps.placement
        ? deps.placement.fromFittingHost({ tools: [], selector: {} }, (executorAddress) =>
            listToolCatalog(deps.executors, { ...req, executorAddress }, creatorTenant(ctx), signal),
          )
        : listToolCatalog(deps.executors, req, creatorTenant(ctx), signal),
    ),

    confirmToolUse: guarded(async (req, signal, sessions) =>
      answerToolCall(
        sessions,
        runner,
        req,
        { kind: "confirmation", result: req.result, denyMessage: req.denyMessage },
        signal,
      ),
    ),

    sendCustomToolResult: guarded(async (req, signal, sessions) => {
      const answer = { kind: "result", output: req.output, isError: req.isError } as const;
      const recorded = await answerToolCall(sessions, runner, req, answer, signal);
      deps.metrics?.toolCall("custom", req.isError ? "error" : "ok");
      return recorded;
    }),

    async *runSession(req, ctx) {
      let started: Recorded;
      let sessions: SessionClient;
      try {
        sessions = sessionsFor(deps.sessions, ctx);
        started = await record(req, sessions, creatorTenant(ctx), ctx.signal);
      } catch (err) {
        throw harnessErrorToConnect(err);
      }
      const signal = deps.closing ? AbortSignal.any([ctx.signal, deps.closing]) : ctx.signal;
      yield* streamRun({
        ...deps,
        sessions,
        sessionId: started.sessionId,
        messageSeq: started.messageSeq,
        signal,
        start: () => runner.kick(started.sessionId, started.fold),
      });
    },

    async *streamText(req, ctx) {
      const { deltas } = deps;
      try {
        validateSessionId(req.sessionId);
        // NOT_FOUND for a missing session, and for another tenant's, before anything is followed.
        await sessionsFor(deps.sessions, ctx).getSession({ sessionId: req.sessionId }, { signal: ctx.signal });
        if (!deltas) {
          throw new ConnectError("this harness has no live text bus: it runs without NATS", Code.FailedPrecondition);
        }
      } catch (err) {
        throw harnessErrorToConnect(err);
      }
      const signal = deps.closing ? AbortSignal.any([ctx.signal, deps.closing]) : ctx.signal;
      yield* streamText({ deltas, sessionId: req.sessionId, signal });
    },
  };
}

/**
 * Ids of the events StartSession writes. With a client-chosen session id they
 * derive from the request, so a retried StartSession (a lost response) is a
 * no-op that returns the same session, while a different request for the same
 * id fails with ALREADY_EXISTS.
 */
function startEventIds(input: StartInput): { created: string; message: string; running: string } {
  if (input.sessionId === "") return { created: uuidv7(), message: uuidv7(), running: uuidv7() };
  const hash = createHash("sha256")
    .update(input.sessionId)
    .update("\0")
    .update(input.config ? toBinary(AgentConfigSchema, create(AgentConfigSchema, input.config)) : new Uint8Array())
    .update("\0")
    .update(input.title)
    .update("\0")
    .update(input.message)
    .digest("hex")
    .slice(0, 32);
  return { created: `start-${hash}-created`, message: `start-${hash}-message`, running: `start-${hash}-running` };
}

function requireSchema(json: string, field: string): void {
  if (json === "") return;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new ConnectError(`${field} is not JSON: ${(err as Error).message}`, Code.InvalidArgument);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConnectError(`${field} must be a JSON object (a JSON Schema)`, Code.InvalidArgument);
  }
}

function requireText(value: string, field: string): void {
  if (value.trim() === "") throw new ConnectError(`${field} must not be empty`, Code.InvalidArgument);
}
