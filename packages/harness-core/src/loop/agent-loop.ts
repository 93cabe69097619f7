import { durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type AgentConfig, type AgentToolResult, RunState, StopReason } from "@reins/proto";
import { inSpan } from "@reins/service-kit";
import {
  createContextManager,
  estimateRequestTokens,
  isPromptTooLong,
  promptTooLongScale,
  resolveContextPolicy,
} from "../context/index.js";
import {
  ContextOverflowError,
  ModelAbortedError,
  ModelError,
  OwnershipLostError,
  SessionLogFullError,
  ToolAbortedError,
} from "../errors.js";
import { type HarnessMetrics, noHarnessMetrics } from "../harness-metrics.js";
import type { SessionFold, ToolCallState } from "../log/index.js";
import {
  type AppendHook,
  agentMessage,
  createSessionLog,
  type EventPayload,
  loadSession,
  modelSpan,
  type SessionClient,
  type SessionLog,
  sessionError,
  sessionStatus,
  syntheticResult,
  toolResult,
  toolUseStarted,
  waitsForClient,
} from "../log/index.js";
import type { DeltaBus, ModelAdapter, ModelDelta, ModelRequest } from "../model/index.js";
import { type ModelToolSpec, notRun, observedModel, outcomeUnknown } from "../model/index.js";
import type { Placement } from "../placement/index.js";
import type { ExecutorPool, ToolOutcome } from "../tools/index.js";
import { type ResolvedTools, resolveTools, toolPolicy, uniqueToolUseIds } from "../tools/index.js";
import { limitReached } from "./limits.js";
import { recordModelFailure } from "./model-failure.js";
import { intentsOf, waitForClient } from "./pending-actions.js";
import { createReschedulePolicy, type ReschedulePolicy } from "./reschedule.js";
import { createResultBatcher } from "./result-batcher.js";
import { routeTurn } from "./turn-route.js";

export interface LoopLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface AgentLoopDeps {
  readonly sessions: SessionClient;
  readonly model: ModelAdapter;
  readonly executors: ExecutorPool;
  readonly deltas?: DeltaBus;
  readonly onAppended?: AppendHook;
  readonly log?: LoopLogger;
  /** max_tokens when the agent config says 0. Default 8192. */
  readonly defaultMaxTokens?: number;
  /** How long a finished tool result may wait for its parallel siblings, to be
   * written with them in one append. Default 100 ms. */
  readonly resultBatchMs?: number;
  /**
   * Called right before each Execute. A driver that holds the session under a
   * lease (a work-queue message with an ack deadline) throws OwnershipLostError here
   * once the lease may have passed to another replica: a replica that was
   * paused between writing an intent and running the call must not run it.
   */
  readonly beforeToolCall?: (sessionId: string, toolUseId: string) => void | Promise<void>;
  /** When a turn the model stayed unavailable for is tried again. Default: createReschedulePolicy(). */
  readonly reschedule?: ReschedulePolicy;
  /**
   * Places sessions whose config names no executor on the registry's executors
   * and routes their calls by their `session.placed` events; without it they
   * use the executor pool's default address.
   */
  readonly placement?: Placement;
  /** Where model requests, tool calls and compactions are reported (harness-metrics.ts). */
  readonly metrics?: HarnessMetrics;
}

/** How a run ended. */
export type RunOutcome =
  /** Waiting for the user (end of turn, model error, interrupt, tool calls that need the client). */
  | { readonly kind: "idle"; readonly stopReason: StopReason }
  /** The model was unavailable: the turn is due again at `retryAt` (ms since epoch), by whoever drives the run. */
  | { readonly kind: "rescheduled"; readonly retryAt: number }
  | { readonly kind: "terminated"; readonly stopReason: StopReason }
  /** Another writer took the session; this run wrote nothing after that. */
  | { readonly kind: "fenced"; readonly error: OwnershipLostError }
  /** The caller's signal stopped the run; it wrote nothing after that. */
  | { readonly kind: "stopped" };

const isConfigError = (err: unknown): err is ConnectError =>
  err instanceof ConnectError && (err.code === Code.PermissionDenied || err.code === Code.InvalidArgument);

const defaultReschedule = createReschedulePolicy();

const byCaller = Symbol("stopped by the caller");
const byWallTime = Symbol("wall time limit");
const byFence = Symbol("fenced");
const byFailedWrite = Symbol("an append failed");

/**
 * The results of a turn's tool calls, all of them, maybe not all sent to the
 * session service yet: the last append is left to `send`, so that the model
 * request they are for can go out first. `send` (idempotent) settles with
 * their append(s): rejected with OwnershipLostError (another writer), SessionLogFullError or
 * the service's error.
 */
interface ResultsInFlight {
  readonly results: ReadonlyMap<string, AgentToolResult>;
  send(): Promise<void>;
}

/**
 * Runs a session from its log until it needs the user or ends: the agent loop.
 * Every step is written (and acknowledged) before it is acted on: the model's
 * answer before any tool runs, each `agent.tool_use_started` before its
 * Execute, each result before anything the model says about it is shown or
 * written. So the loop can be killed anywhere and run again, by any process,
 * from the log alone: a call that started without a result is reported
 * "interrupted; outcome unknown" (or run again, if its tool is idempotent).
 * Safe to call on a session that has nothing to do.
 *
 * The model request after a turn's tool calls is sent first, and their results
 * appended right after it, while the model works (see ResultsInFlight): that
 * round trip costs the turn nothing; the answer waits for the acknowledgement,
 * and a refused results append cancels the request.
 */
export async function runAgentLoop(
  deps: AgentLoopDeps,
  sessionId: string,
  signal?: AbortSignal,
  /** The session's current state, when the caller has just written it (saves reading the log). */
  known?: SessionFold,
): Promise<RunOutcome> {
  const run = new AbortController();
  const stop = () => run.abort(byCaller);
  if (signal?.aborted) return { kind: "stopped" };
  signal?.addEventListener("abort", stop, { once: true });
  let wallTimer: NodeJS.Timeout | undefined;
  // Set once the run is under way, for the wall-time limit to end it from anywhere.
  let log: SessionLog | undefined;
  let wallMs = 0;
  try {
    const fold = known ?? (await loadSession(deps.sessions, sessionId, run.signal));
    const config = fold.config;
    if (!config) throw new Error(`session ${sessionId} has no session.created event`);
    log = createSessionLog({ client: deps.sessions, fold, onAppended: deps.onAppended });
    const step = fold.next();
    if (step === "terminated") return { kind: "terminated", stopReason: fold.stopReason };
    if (step === "idle") {
      // A crash can fall between a turn's last event and its idle status.
      if (fold.runState === RunState.RUNNING) await log.append(sessionStatus(RunState.IDLE, fold.idleReason()));
      return { kind: "idle", stopReason: fold.idleReason() };
    }
    if (step === "waiting") return await waitForClient(log);
    // A turn rescheduled for later (a wake delivered early, a Wake) waits: nothing is asked before it is due.
    if (fold.runState === RunState.RESCHEDULING && fold.retryAt !== undefined && fold.retryAt > Date.now()) {
      return { kind: "rescheduled", retryAt: fold.retryAt };
    }
    if (fold.runState !== RunState.RUNNING) await log.append(sessionStatus(RunState.RUNNING));
    wallMs = config.limits?.maxWallTime ? durationMs(config.limits.maxWallTime) : 0;
    if (wallMs > 0) {
      const left = (fold.runStartedAt ?? Date.now()) + wallMs - Date.now();
      // A run resumed after its client took longer than the limit (the wait counts) ends here.
      if (left <= 0) return await endOnWallTime(log, wallMs);
      wallTimer = setTimeout(() => run.abort(byWallTime), Math.max(0, left));
    }
    let tools: ResolvedTools;
    try {
      tools = await resolveTools(config, fold.tenant, deps.executors, run.signal);
    } catch (err) {
      // A config no run can ever use (an executor this harness may not call, a tool its
      // executor does not offer) is the session's problem, not the harness's: it is
      // recorded for the client and the session waits, like a failed model request.
      if (!isConfigError(err)) throw err;
      deps.log?.warn({ sessionId, err: err.rawMessage }, "the session's tools cannot be resolved");
      await log.append(
        sessionError(err.rawMessage, "invalid_config", false),
        sessionStatus(RunState.IDLE, StopReason.ERROR, err.rawMessage),
      );
      return { kind: "idle", stopReason: StopReason.ERROR };
    }
    const turn = createTurn(deps, log, config, tools, run, deps.reschedule ?? defaultReschedule);

    for (;;) {
      if (run.signal.aborted) {
        if (run.signal.reason === byWallTime) return await endOnWallTime(log, wallMs);
        return { kind: "stopped" };
      }
      const next = fold.next();
      if (next === "terminated") return { kind: "terminated", stopReason: fold.stopReason };
      if (next === "idle") {
        await log.append(sessionStatus(RunState.IDLE, fold.idleReason()));
        return { kind: "idle", stopReason: fold.idleReason() };
      }
      if (next === "waiting") return await waitForClient(log);
      // Results still in flight can only lead to a model request: nothing else
      // the loop might do next depends on them.
      const inFlight = next === "tools" ? await turn.runTools() : undefined;
      if (next === "tools" && !inFlight) continue;
      const limit = limitReached(config, fold.turns, fold.totalTokens);
      if (limit) {
        await inFlight?.send();
        await log.append(sessionStatus(RunState.TERMINATED, limit.reason, limit.detail));
        return { kind: "terminated", stopReason: limit.reason };
      }
      try {
        const failed = await turn.callModel(inFlight);
        if (failed) return failed;
      } finally {
        // Sent by callModel as soon as its request is out; this is for a request that never went.
        inFlight?.send().catch(() => undefined);
      }
    }
  } catch (err) {
    if (err instanceof OwnershipLostError) {
      deps.log?.warn({ sessionId, err: err.message }, "fenced out: another writer owns the session");
      return { kind: "fenced", error: err };
    }
    // The log took its terminated status (or nothing more at all): a rerun would
    // only ask the model again for an answer that cannot be written.
    if (err instanceof SessionLogFullError) {
      deps.log?.warn({ sessionId, err: err.message }, "session log full: run ended");
      return { kind: "terminated", stopReason: StopReason.ERROR };
    }
    if (run.signal.reason === byCaller) return { kind: "stopped" };
    // The limit cut a call short (e.g. the catalog lookup of resolveTools): that is the run's end.
    if (run.signal.reason === byWallTime && log) return await endOnWallTime(log, wallMs);
    throw err;
  } finally {
    clearTimeout(wallTimer);
    signal?.removeEventListener("abort", stop);
  }
}

function createTurn(
  deps: AgentLoopDeps,
  log: SessionLog,
  config: AgentConfig,
  tools: { specs: ModelToolSpec[]; idempotent: ReadonlySet<string> },
  run: AbortController,
  reschedule: ReschedulePolicy,
) {
  const { fold } = log;
  const sessionId = fold.sessionId;
  const policy = toolPolicy(config);
  // Calls whose intent this run wrote: it may run them. A call found started in
  // the log but not by this run belongs to a run that died.
  const intended = new Set<string>();
  // Once the caller stopped the run or another writer took over, nothing more is written.
  const mayWrite = () => !run.signal.aborted || run.signal.reason === byWallTime;
  const maxTokens = config.maxTokens || deps.defaultMaxTokens || 8192;
  const metrics = deps.metrics ?? noHarnessMetrics;
  const model = observedModel(deps.model, metrics, fold.tenant);
  const context = createContextManager({
    log,
    model,
    policy: resolveContextPolicy(config),
    modelName: config.model,
    system: config.systemPrompt,
    tools: tools.specs,
    maxTokens,
    signal: run.signal,
  });
  // A view that cannot be made to fit ends the run like a refused request: idle until new input.
  const overflow = async (err: ContextOverflowError): Promise<RunOutcome> => {
    deps.log?.warn({ sessionId, err: err.message }, "context overflow: run ended");
    await log.append(
      ...(err.stats ? [modelSpan(err.stats, err.message)] : []),
      sessionError(err.message, "context_overflow", false),
      sessionStatus(RunState.IDLE, StopReason.ERROR, err.message),
    );
    return { kind: "idle", stopReason: StopReason.ERROR };
  };

  const compact = async (reason: "threshold" | "prompt_too_long", scale?: number) => {
    try {
      await context.compact(reason, scale);
    } catch (err) {
      metrics.compaction(reason, false);
      throw err;
    }
    metrics.compaction(reason, true);
  };

  return {
    /**
     * One model request and its answer. With results in flight, the request goes
     * out first and their append right after; until they are acknowledged, its
     * live text is held back and its answer is not written; if their append
     * fails, the request is cancelled and the failure ends the run as it would
     * have without the overlap.
     */
    async callModel(inFlight?: ResultsInFlight, retried = false): Promise<RunOutcome | undefined> {
      const turnNumber = fold.turns + 1;
      const publish = (d: ModelDelta) => deps.deltas?.publish({ sessionId, turn: turnNumber, ...d });
      const requestOf = () => ({
        model: config.model,
        system: config.systemPrompt,
        tools: tools.specs,
        messages: fold.conversation(inFlight?.results),
        maxTokens,
      });
      let request = requestOf();
      if (await context.needsCompaction(request)) {
        // A compaction names tool results by seq: the results in flight are written first.
        await inFlight?.send();
        inFlight = undefined;
        try {
          await compact("threshold");
        } catch (err) {
          if (err instanceof ContextOverflowError) return await overflow(err);
          if (err instanceof ModelAbortedError) return undefined;
          if (err instanceof ModelError && mayWrite()) return await recordModelFailure(log, err, reschedule, deps.log);
          throw err;
        }
        request = requestOf();
      }
      let held: ModelDelta[] | undefined = inFlight ? [] : undefined;
      // The request goes out before the results' append does its work: the append
      // has until the answer to be acknowledged, the request is the turn's critical path.
      const streaming = (async () =>
        model.stream(request, {
          signal: run.signal,
          onDelta: (d) => (held ? held.push(d) : publish(d)),
        }))();
      const acknowledged = (inFlight?.send() ?? Promise.resolve()).then(
        () => {
          for (const d of held ?? []) publish(d);
          held = undefined;
        },
        (err: unknown) => {
          held = undefined;
          run.abort(err instanceof OwnershipLostError ? byFence : byFailedWrite);
          throw err;
        },
      );
      // Observed below on every path; this only keeps an early failure from being "unhandled".
      acknowledged.catch(() => undefined);
      try {
        const response = await streaming;
        await acknowledged;
        if (run.signal.aborted) return undefined;
        // The answer and the write-ahead intent of each of its tool calls go in
        // one append: all of it is acknowledged before any call is made, and a
        // turn costs one round trip less.
        // Calls pair with their intents and results by tool_use id: one the model repeated is renamed.
        const unique = uniqueToolUseIds(response, fold.hasToolUse);
        if (unique.renamed.length > 0) deps.log?.warn({ sessionId, renamed: unique.renamed }, "tool_use ids renamed");
        context.counter.observe(request, response.usage);
        const message = agentMessage(unique.response);
        const intents = message.case === "agentMessage" ? intentsOf(message.value, policy) : { payloads: [], runs: [] };
        for (const id of intents.runs) intended.add(id);
        await log.append(message, modelSpan(response), ...intents.payloads);
        return undefined;
      } catch (err) {
        // A failed results append decides how the run ends, whatever became of the request.
        await acknowledged;
        if (err instanceof ModelAbortedError) return undefined;
        if (!(err instanceof ModelError) || !mayWrite()) throw err;
        if (isPromptTooLong(err)) return await this.tooLong(err, request, retried);
        return await recordModelFailure(log, err, reschedule, deps.log);
      }
    },

    /**
     * The API refused the request as longer than the window: one compaction
     * (scaled by how far off the estimate was) and one retry, never more; a
     * second refusal, or context management off, ends the run.
     */
    async tooLong(err: ModelError, request: ModelRequest, retried: boolean): Promise<RunOutcome | undefined> {
      const { policy } = context;
      if (retried || !policy.enabled) {
        const why = policy.enabled ? "even after compaction" : "and context management is off for this session";
        return await overflow(
          new ContextOverflowError(
            `the request does not fit the model's context window ${why}: ${err.message}`,
            err.stats,
          ),
        );
      }
      await log.append(modelSpan(err.stats, err.message));
      try {
        await compact("prompt_too_long", promptTooLongScale(err, estimateRequestTokens(request)));
      } catch (failure) {
        if (failure instanceof ContextOverflowError) return await overflow(failure);
        if (failure instanceof ModelAbortedError) return undefined;
        if (failure instanceof ModelError && mayWrite())
          return await recordModelFailure(log, failure, reschedule, deps.log);
        throw failure;
      }
      return await this.callModel(undefined, true);
    },

    /**
     * Runs the last turn's open calls, but those that wait for the client (they
     * keep the session waiting once the others are done). Returns their results
     * still in flight when every call has one and the run goes on; otherwise
     * waits for what was written and returns nothing, for the loop to look at the log again.
     */
    async runTools(): Promise<ResultsInFlight | undefined> {
      const open = fold.openCalls().filter((c) => c.result === undefined && !waitsForClient(c, policy));
      // A call that started but left no result may or may not have run: only an
      // idempotent tool is safe to run again; the model decides about the rest.
      const unknown = open.filter(
        (c) => c.startedEventId !== undefined && !intended.has(c.toolUse.id) && !tools.idempotent.has(c.toolUse.name),
      );
      if (unknown.length > 0) await log.append(...unknown.map((c) => syntheticResult(c.toolUse, outcomeUnknown)));
      const fresh = open.filter((c) => c.startedEventId === undefined);
      // Write-ahead: every intent is acknowledged before any call is made.
      for (const c of fresh) intended.add(c.toolUse.id);
      if (fresh.length > 0) await log.append(...fresh.map((c) => toolUseStarted(c.toolUse)));
      const runnable = open.filter((c) => !unknown.includes(c));
      const offered = new Set(tools.specs.map((spec) => spec.name));
      // Host and MCP tools run here, wherever the session is placed.
      const onExecutor = (name: string) =>
        offered.has(name) && deps.executors.kindOf?.(name, fold.tenant) === undefined;
      const route = await routeTurn(
        log,
        config,
        deps.executors,
        deps.placement,
        runnable.filter((c) => onExecutor(c.toolUse.name)).length,
      );
      const results = createResultBatcher(log, runnable.length, deps.resultBatchMs ?? 100);
      const produced = new Map<string, AgentToolResult>();
      const appends: Promise<void>[] = [];
      const record = (payload: EventPayload) => {
        if (payload.case === "agentToolResult") produced.set(payload.value.toolUseId, payload.value);
        const appended = results.add(payload);
        // Handled here, as an append may fail while other calls still run; observed through `written`.
        appended.catch(() => undefined);
        appends.push(appended);
      };
      const settled = await Promise.allSettled(
        runnable.map(async (call) => {
          if (run.signal.aborted) return results.skip();
          // The model may name a tool it was never offered (a confused or hostile
          // endpoint): that never reaches an executor.
          if (!offered.has(call.toolUse.name)) {
            return record(syntheticResult(call.toolUse, notOffered(call.toolUse.name, offered)));
          }
          const refusal = onExecutor(call.toolUse.name) ? route.refusal(call.toolUse.name) : undefined;
          if (refusal !== undefined) return record(syntheticResult(call.toolUse, refusal));
          const execute = async (address: string) => {
            await deps.beforeToolCall?.(sessionId, call.toolUse.id);
            return deps.executors.execute(
              address,
              {
                sessionId,
                toolUseId: call.toolUse.id,
                name: call.toolUse.name,
                inputJson: call.toolUse.inputJson,
                tenant: fold.tenant,
              },
              run.signal,
            );
          };
          const kind = deps.executors.kindOf?.(call.toolUse.name, fold.tenant) ?? "executor";
          // Names and ids only: the input and output may hold anything.
          const attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.toolUse.name,
            "gen_ai.tool.call.id": call.toolUse.id,
            "reins.tool.kind": kind,
          };
          const began = performance.now();
          await inSpan("@reins/harness-core", `execute_tool ${call.toolUse.name}`, { attributes }, async (span) => {
            let outcome: ToolOutcome;
            try {
              outcome = await execute(route.address);
              // A new host that refused before the call started: the call goes to the next one instead.
              const elsewhere = onExecutor(call.toolUse.name) ? await route.moveIfUnused(outcome) : undefined;
              if (elsewhere !== undefined && !run.signal.aborted) outcome = await execute(elsewhere);
            } catch (err) {
              metrics.toolCall(kind, "failed", (performance.now() - began) / 1000);
              results.skip();
              throw err;
            }
            span.setAttributes({ "reins.tool.is_error": outcome.isError, "reins.tool.exit_code": outcome.exitCode });
            const lost = route.lostResult(call.toolUse.name, outcome);
            const ended = lost !== undefined ? "host_lost" : outcome.isError ? "error" : "ok";
            metrics.toolCall(kind, ended, (performance.now() - began) / 1000);
            if (!mayWrite()) return results.skip();
            if (lost !== undefined) return record(syntheticResult(call.toolUse, lost));
            record(toolResult(call.toolUse, outcome));
          });
        }),
      );
      const written = Promise.all(appends).then(() => undefined);
      written.catch(() => undefined); // observed by whoever waits for it
      const send = () => {
        results.release();
        return written;
      };
      for (const result of settled) {
        if (result.status === "fulfilled" || result.reason instanceof ToolAbortedError) continue;
        // Nothing is left writing behind the run's back.
        await send().catch(() => undefined);
        if (result.reason instanceof OwnershipLostError) run.abort(byFence);
        throw result.reason;
      }
      if (!run.signal.aborted && route.mayBeLost()) {
        // The results first, then the new placement: the next calls go to the new host.
        try {
          await send();
        } catch (err) {
          if (err instanceof OwnershipLostError) run.abort(byFence);
          throw err;
        }
        await route.replaceIfLost();
        return undefined;
      }
      const complete = fold.openCalls().every((c) => c.result !== undefined || produced.has(c.toolUse.id));
      if (complete && !run.signal.aborted) return { results: produced, send };
      try {
        await send();
      } catch (err) {
        if (err instanceof OwnershipLostError) run.abort(byFence);
        throw err;
      }
      return undefined;
    },
  };
}

/** Ends the run at its wall-time limit, answering any call it cut short. */
async function endOnWallTime(log: SessionLog, wallMs: number): Promise<RunOutcome> {
  const { fold } = log;
  const detail = `wall time limit of ${Math.round(wallMs / 1000)} s reached`;
  const step = fold.next();
  const open = step === "tools" || step === "waiting" ? fold.openCalls().filter((c) => c.result === undefined) : [];
  if (open.length > 0) await log.append(...open.map((c) => syntheticResult(c.toolUse, cutShort(c, detail))));
  await log.append(sessionStatus(RunState.TERMINATED, StopReason.BUDGET_REACHED, detail));
  return { kind: "terminated", stopReason: StopReason.BUDGET_REACHED };
}

function notOffered(name: string, offered: ReadonlySet<string>): string {
  const list = offered.size > 0 ? [...offered].join(", ") : "none";
  return `tool ${JSON.stringify(name)} is not available in this session (available tools: ${list})`;
}

function cutShort(call: ToolCallState, detail: string): string {
  return call.startedEventId === undefined ? `${notRun} (${detail})` : `${outcomeUnknown} (${detail})`;
}
