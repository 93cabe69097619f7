import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "@reins/service-kit";
import { inSpan, quoteForMessage, validateSessionId } from "@reins/service-kit";
import type Docker from "dockerode";
import type { Catalog, ToolSpec } from "./catalog/index.js";
import { formatSchemaErrors } from "./catalog/index.js";
import {
  buildScript,
  checkCatalogRuntimes,
  createReaper,
  createWarmPool,
  daemonLabel,
  type EngineRuntimes,
  type PoolStats,
  profileOf,
  readEngineRuntimes,
  renderArgv,
  renderTemplate,
  type SandboxContainer,
  startSandboxContainer,
} from "./container/index.js";
import { CommandInputError, type DockerFailure, toDockerFailure, WorkspaceDiskError } from "./errors.js";
import { type CallOutcome, type ExecutorMetrics, noExecutorMetrics, timedStart } from "./executor-metrics.js";
import { createLimiter } from "./limiter.js";
import { formatOutcome } from "./output/index.js";
import { formatBytes } from "./units.js";
import { createWorkspaces } from "./workspace/index.js";

const tracerName = "@reins/executor-core";

export interface ExecutorOptions {
  readonly docker: Docker;
  readonly catalog: Catalog;
  /**
   * Scopes this executor's containers: they carry `reins.executor=<daemonId>`, and
   * on start only containers with this label are removed. Executors sharing one
   * engine must use different ids.
   */
  readonly daemonId: string;
  readonly log?: Logger;
  /** Calls running at once (default 8). */
  readonly maxConcurrent?: number;
  /** Calls waiting for a slot before RESOURCE_EXHAUSTED (default 64). */
  readonly maxQueued?: number;
  /** Warm containers per profile; default from the catalog's pool.size. */
  readonly poolSize?: number;
  /** Containers started at once by the pool (default 2). */
  readonly parallelStarts?: number;
  /**
   * How often, and past what age, containers of this executor that were created but never
   * started are removed (default every 30 s, older than 60 s). See Reaper.sweepNeverStarted.
   */
  readonly neverStartedSweep?: { readonly everyMs: number; readonly minAgeMs: number };
  /**
   * Directory of the workspaces' image files (default /var/lib/reins-executor/workspaces). It
   * must be on the Docker engine's host, whose loop devices mount them.
   */
  readonly workspaceDir?: string;
  /** Where calls, container starts, warm-pool hits and sweeps are reported (executor-metrics.ts). */
  readonly metrics?: ExecutorMetrics;
}

export const defaultWorkspaceDir = "/var/lib/reins-executor/workspaces";

export interface ExecuteInput {
  readonly name: string;
  readonly inputJson: string;
  readonly sessionId?: string;
  readonly callId?: string;
}

export interface ExecuteResult {
  readonly output: string;
  readonly isError: boolean;
  /** -1 when no process completed. */
  readonly exitCode: number;
  readonly durationMs: number;
  readonly truncated: boolean;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly oomKilled: boolean;
  /** A pre-started container served the call. */
  readonly warm: boolean;
}

export interface ExecutorStats extends PoolStats {
  readonly running: number;
  readonly queued: number;
  readonly removing: number;
}

export interface Executor extends AsyncDisposable {
  readonly daemonId: string;
  readonly catalog: Catalog;
  /** "reins.executor=<daemonId>": the label on every container and volume it makes. */
  readonly label: string;
  /**
   * Asks the engine for its runtimes and throws CatalogError, naming each tool and runtime, when
   * a tool names one the engine lacks: call it before start(). An engine that does not answer is
   * not an error (calls fail as strings until it is back): undefined, the check was not made.
   */
  checkRuntimes(): Promise<EngineRuntimes | undefined>;
  /** The runtime a tool's containers run under: its own, else the engine's default once known. */
  runtimeOf(tool: ToolSpec): string | undefined;
  /** Removes containers of an earlier life and fills the warm pools. Never throws for Docker trouble. */
  start(): Promise<void>;
  /** Runs one tool call. Throws ConnectError only for caller mistakes; tool failures are results. */
  execute(input: ExecuteInput, signal?: AbortSignal): Promise<ExecuteResult>;
  /** Removes a session's workspace volume; false when it had none. */
  deleteWorkspace(sessionId: string): Promise<boolean>;
  /** Resolves once the warm pools are full (benchmarks and tests). */
  ready(): Promise<void>;
  stats(): ExecutorStats;
  /** Refuses new calls, lets running ones finish for `graceMs`, kills the rest, removes every container. */
  close(graceMs?: number): Promise<void>;
}

const quietLog = { info() {}, warn() {}, debug() {}, error() {} } as unknown as Logger;

export function createExecutor(options: ExecutorOptions): Executor {
  const { docker, catalog, daemonId } = options;
  const log = options.log ?? quietLog;
  const metrics = options.metrics ?? noExecutorMetrics;
  const labels = { [daemonLabel]: daemonId };
  const label = `${daemonLabel}=${daemonId}`;
  const reaper = createReaper(docker, log);
  const workspaces = createWorkspaces(docker, labels, {
    dir: options.workspaceDir ?? defaultWorkspaceDir,
    sizeBytes: catalog.workspaces.sizeBytes,
  });
  const limiter = createLimiter(options.maxConcurrent ?? 8, options.maxQueued ?? 64);
  const inFlight = new Set<AbortController>();
  let idle: (() => void) | undefined;
  let closing: Promise<void> | undefined;
  let engineRuntimes: EngineRuntimes | undefined;

  const pool = createWarmPool({
    start: (profile) =>
      timedStart(metrics, "pool", () => startSandboxContainer(docker, profile, labels, reaper.remove)),
    discard: reaper.remove,
    parallelStarts: options.parallelStarts ?? 2,
    sessionIdleMs: catalog.pool.sessionIdleMs,
    sessionMax: catalog.pool.sessionMax,
    onStartFailure: (profile, failure, attempt) => {
      if (attempt === 1 || attempt % 20 === 0) {
        log.warn({ image: profile.image, attempt, err: failure.message }, "cannot pre-start sandbox containers");
      }
    },
    onRecovered: (profile) => log.info({ image: profile.image }, "pre-starting sandbox containers again"),
  });

  const neverStarted = options.neverStartedSweep ?? { everyMs: 30_000, minAgeMs: 60_000 };
  let sweepTimer: NodeJS.Timeout | undefined;
  const sweepNeverStarted = async () => {
    try {
      const removed = await reaper.sweepNeverStarted(label, neverStarted.minAgeMs);
      if (removed > 0) metrics.reaped("never_started", removed);
    } catch (err) {
      log.debug({ err: toDockerFailure(err, "listing containers").message }, "could not look for lost containers");
    }
    if (!closing) sweepTimer = setTimeout(sweepNeverStarted, neverStarted.everyMs).unref();
  };

  async function checkRuntimes(): Promise<EngineRuntimes | undefined> {
    let engine: EngineRuntimes;
    try {
      engine = await readEngineRuntimes(docker);
    } catch (err) {
      log.warn({ err: (err as Error).message }, "cannot check the tools' runtimes against the engine");
      return undefined;
    }
    checkCatalogRuntimes(catalog, engine);
    engineRuntimes = engine;
    return engine;
  }

  async function start(): Promise<void> {
    try {
      const removed = await reaper.sweep(label);
      if (removed > 0) {
        log.info({ removed }, "removed containers left by an earlier run");
        metrics.reaped("startup", removed);
      }
    } catch (err) {
      log.warn({ err: toDockerFailure(err, "listing old containers").message }, "could not clean up old containers");
    }
    if (!closing && !sweepTimer) sweepTimer = setTimeout(sweepNeverStarted, neverStarted.everyMs).unref();
    const size = options.poolSize ?? catalog.pool.size;
    if (size <= 0) return;
    for (const tool of catalog.tools) {
      if (tool.workspace === "none") pool.keep(profileOf(tool, undefined), size);
    }
  }

  function checkCaller(input: ExecuteInput): void {
    if (closing) throw new ConnectError("executor is shutting down; retry on another executor", Code.Unavailable);
    if (!input.name) throw new ConnectError("name is required: the tool to run", Code.InvalidArgument);
    if (input.sessionId) validateSessionId(input.sessionId);
    if (input.callId && input.callId.length > 256) {
      throw new ConnectError("call_id is longer than 256 characters", Code.InvalidArgument);
    }
  }

  async function execute(input: ExecuteInput, signal?: AbortSignal): Promise<ExecuteResult> {
    const began = performance.now();
    // Refused (bad input, unknown tool) until the call gets as far as a container.
    const call: { outcome: CallOutcome } = { outcome: "refused" };
    try {
      const result = await executeCall(input, began, call, signal);
      if (call.outcome === "ok" && result.isError)
        call.outcome = result.timedOut ? "timeout" : result.oomKilled ? "oom" : "error";
      return result;
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.ResourceExhausted) call.outcome = "queue_full";
      // Stopped while waiting for a slot: the caller went away, the input was fine.
      else if (signal?.aborted && call.outcome === "refused" && catalog.get(input.name)) call.outcome = "cancelled";
      throw err;
    } finally {
      metrics.call(catalog.get(input.name) ? input.name : "unknown", call.outcome, (performance.now() - began) / 1000);
    }
  }

  async function executeCall(
    input: ExecuteInput,
    began: number,
    call: { outcome: CallOutcome },
    signal?: AbortSignal,
  ): Promise<ExecuteResult> {
    checkCaller(input);
    const fail = (output: string): ExecuteResult => ({
      output,
      isError: true,
      exitCode: -1,
      durationMs: performance.now() - began,
      truncated: false,
      timedOut: false,
      stdout: "",
      stderr: "",
      oomKilled: false,
      warm: false,
    });

    let parsed: unknown;
    try {
      parsed = JSON.parse(input.inputJson === "" ? "{}" : input.inputJson);
    } catch (err) {
      throw new ConnectError(`input_json is not valid JSON: ${(err as Error).message}`, Code.InvalidArgument);
    }
    const tool = catalog.get(input.name);
    if (!tool) {
      return fail(
        `unknown tool ${quoteForMessage(input.name)}; available tools: ${catalog.tools.map((t) => t.name).join(", ")}`,
      );
    }
    const inputBytes = Buffer.byteLength(input.inputJson);
    if (inputBytes > tool.maxInputBytes) {
      return fail(
        `input of ${formatBytes(inputBytes)} refused: tool ${tool.name} accepts at most ${formatBytes(tool.maxInputBytes)}`,
      );
    }
    if (!tool.validate(parsed)) {
      return fail(`input does not match the schema of tool ${tool.name}:\n${formatSchemaErrors(tool.validate.errors)}`);
    }
    if (tool.workspace === "session" && !input.sessionId) {
      throw new ConnectError(
        `tool ${tool.name} works in a session workspace: session_id is required`,
        Code.InvalidArgument,
      );
    }
    const fields = parsed as Record<string, unknown>;
    let script: ReturnType<typeof buildScript>;
    try {
      script = buildScript({
        argv: renderArgv(tool.argv, fields),
        env: tool.env,
        workspace: tool.workspace === "session",
        stdin: tool.stdin === undefined ? undefined : Buffer.from(renderTemplate(tool.stdin, fields)),
      });
    } catch (err) {
      if (err instanceof CommandInputError) return fail(err.message);
      throw err;
    }

    const abort = new AbortController();
    const onCallerAbort = () => abort.abort(signal?.reason);
    signal?.addEventListener("abort", onCallerAbort, { once: true });
    if (signal?.aborted) abort.abort(signal.reason);
    inFlight.add(abort);
    let release: (() => void) | undefined;
    try {
      release = await limiter.acquire(abort.signal);
      return await runTool(tool, input, script, abort.signal, began, fail, call);
    } finally {
      release?.();
      signal?.removeEventListener("abort", onCallerAbort);
      inFlight.delete(abort);
      if (inFlight.size === 0) idle?.();
    }
  }

  async function runTool(
    tool: ToolSpec,
    input: ExecuteInput,
    script: ReturnType<typeof buildScript>,
    signal: AbortSignal,
    began: number,
    fail: (output: string) => ExecuteResult,
    call: { outcome: CallOutcome },
  ): Promise<ExecuteResult> {
    // From here a failure is the tool's or the engine's, not the caller's.
    call.outcome = "error";
    const profile = profileOf(tool, input.sessionId);
    let container: SandboxContainer | undefined;
    let warm = false;
    try {
      container = await inSpan(
        tracerName,
        "container.create",
        { attributes: { "reins.tool.name": tool.name } },
        async (span) => {
          if (profile.sessionId) await workspaces.ensure(profile.sessionId);
          const taken = pool.take(profile);
          warm = taken !== undefined;
          metrics.warmPool(warm);
          // A warm container was created off the call's path: taking it is all this span times.
          span.setAttribute("reins.container.warm", warm);
          const started =
            taken ??
            (await timedStart(metrics, "call", () =>
              startSandboxContainer(docker, profile, labels, reaper.remove, signal),
            ));
          span.setAttribute("container.id", started.id);
          return started;
        },
      );
    } catch (err) {
      if (signal.aborted) {
        call.outcome = "cancelled";
        return fail("cancelled before the tool started");
      }
      return fail((err as DockerFailure).message ?? toDockerFailure(err, `running ${tool.name}`).message);
    }
    const running = container;
    try {
      const attributes = { "reins.tool.name": tool.name, "container.id": running.id, "reins.container.warm": warm };
      const outcome = await inSpan(tracerName, "container.run", { attributes }, async (span) => {
        const ran = await running.run({
          delivery: script.delivery,
          nonce: script.nonce,
          timeoutMs: tool.timeoutMs,
          maxOutputBytes: tool.maxOutputBytes,
          signal,
        });
        span.setAttributes({
          "reins.container.exit_code": ran.exitCode,
          "reins.container.timed_out": ran.timedOut,
          "reins.container.oom_killed": ran.oomKilled,
        });
        return ran;
      });
      const formatted = formatOutcome(tool, outcome);
      const cancelled = outcome.cancelled && !outcome.timedOut;
      // "ok" is refined by execute() from the result: error, timeout or oom.
      call.outcome = cancelled ? "cancelled" : "ok";
      const result: ExecuteResult = {
        output: cancelled
          ? `${formatted.output}${formatted.output ? "\n" : ""}[cancelled: the call was aborted]`
          : formatted.output,
        isError: formatted.isError || cancelled,
        exitCode: outcome.exitCode,
        durationMs: performance.now() - began,
        truncated: formatted.truncated,
        timedOut: outcome.timedOut,
        stdout: formatted.stdout,
        stderr: formatted.stderr,
        oomKilled: outcome.oomKilled,
        warm,
      };
      log.info(
        {
          tool: tool.name,
          callId: input.callId,
          sessionId: input.sessionId,
          warm,
          exitCode: result.exitCode,
          ms: Math.round(result.durationMs),
        },
        "tool call finished",
      );
      return result;
    } catch (err) {
      return fail(toDockerFailure(err, `running ${tool.name}`).message);
    } finally {
      reaper.remove(container.id);
      if (profile.sessionId && !closing) pool.touch(profile);
    }
  }

  async function close(graceMs = 10_000): Promise<void> {
    closing ??= (async () => {
      if (inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => (idle = resolve)),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer);
        for (const call of inFlight) call.abort(new ConnectError("executor is shutting down", Code.Unavailable));
        if (inFlight.size > 0) await new Promise<void>((resolve) => (idle = resolve));
      }
      clearTimeout(sweepTimer);
      await pool.close();
      // Every container of this executor, those it lost track of included.
      await reaper.sweep(label).catch(() => 0);
      await reaper.settled();
    })();
    return closing;
  }

  return {
    daemonId,
    catalog,
    label,
    checkRuntimes,
    runtimeOf: (tool) => tool.runtime ?? engineRuntimes?.defaultRuntime,
    start,
    execute,
    async deleteWorkspace(sessionId) {
      validateSessionId(sessionId);
      pool.dropSession(sessionId);
      await reaper.settled(10_000);
      try {
        return await workspaces.remove(sessionId);
      } catch (err) {
        if (err instanceof WorkspaceDiskError) throw new ConnectError(err.message, Code.Internal);
        const failure = toDockerFailure(err, "removing a workspace");
        throw new ConnectError(failure.message, failure.code);
      }
    },
    ready: () => pool.ready(),
    stats: () => ({ ...pool.stats(), running: limiter.running, queued: limiter.queued, removing: reaper.pending }),
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}
