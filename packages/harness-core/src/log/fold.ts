import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  type AgentConfig,
  type AgentMessage,
  type AgentToolResult,
  type Event,
  RunState,
  type SessionPlaced,
  StopReason,
  type ToolUseBlock,
} from "@reins/proto";
import {
  type ConversationBlock,
  type ConversationMessage,
  interruptText,
  notRun,
  outcomeUnknown,
  parseToolInput,
} from "../model/index.js";
import { type ToolPolicy, toolPolicy } from "../tools/index.js";
import { clearedResultText, summaryText, type ViewCheckpoint } from "./context-view.js";
import { applyToolAction, setResult, waitsForClient } from "./tool-actions.js";

/** One tool call of a model turn and how far it got in the log. */
export interface ToolCallState {
  readonly toolUse: ToolUseBlock;
  /** Id of its `agent.tool_use_started` event, once written. */
  startedEventId?: string;
  result?: AgentToolResult;
  /** Id of the event that brought the result (`agent.tool_result`, or a client's answer). */
  resultEventId?: string;
  /** A client's decision on an `always_ask` call (the first one decides). */
  confirmation?: { readonly allow: boolean; readonly denyMessage: string; readonly eventId: string };
  /** Seq of the result's event, once written. */
  resultSeq?: bigint;
}

/** One turn of the conversation, with the seq of the event that opened it. */
export type Entry = { readonly seq: bigint } & (
  | { readonly kind: "user"; readonly text: string }
  | { readonly kind: "interrupt"; readonly reason: string }
  | { readonly kind: "agent"; readonly message: AgentMessage; readonly calls: ToolCallState[] }
);

/** What a session needs next, judged from its log alone. */
export type NextStep =
  /** The conversation ends with user input or complete tool results: call the model. */
  | "model"
  /** The last model turn has tool calls without results that the harness may run. */
  | "tools"
  /** Every call of the last turn without a result waits for the client (a confirmation, a custom tool's result). */
  | "waiting"
  /** Nothing to do until the user speaks (end of turn, interrupt, empty session). */
  | "idle"
  /** Finished for good. */
  | "terminated";

/**
 * The state of a session folded from its events, kept up to date one event at a
 * time so the loop never rereads the log. Everything a harness replica knows
 * about a session comes from here.
 */
export interface SessionFold {
  apply(event: Event): void;
  readonly sessionId: string;
  readonly config: AgentConfig | undefined;
  /** The tenant that owns the session, from `session.created` ("" when none). */
  readonly tenant: string;
  readonly lastSeq: bigint;
  /** Seq of an event already folded, by id. */
  seqOf(eventId: string): bigint | undefined;
  readonly runState: RunState;
  readonly stopReason: StopReason;
  /** When the current run's `running` status was written (ms since epoch). */
  readonly runStartedAt: number | undefined;
  /** Model turns recorded (`agent.message` events). */
  readonly turns: number;
  /** Input + output tokens (cached ones included) over all model requests. */
  readonly totalTokens: number;
  /**
   * The last run ended on an error no rerun gets past by itself (the model
   * refused the request, retries ran out, a config no run can use), and no
   * input came since: next() is "idle" until a user message, or a running
   * status (a client's Wake asking to try again).
   */
  readonly failed: boolean;
  /** Rescheduled attempts of the current turn so far (`rescheduling` statuses since the last answer or input). */
  readonly reschedules: number;
  /** When the rescheduled turn is due (ms since epoch), while the session is rescheduling. */
  readonly retryAt: number | undefined;
  next(): NextStep;
  /** Why the session is idle when next() is "idle": the last turn's stop reason. */
  idleReason(): StopReason;
  /** Tool calls of the last model turn, in tool_use order. */
  openCalls(): readonly ToolCallState[];
  /** Calls of the last model turn that wait for the client, in tool_use order. */
  pendingCalls(): readonly ToolCallState[];
  /** A recorded tool call of any turn, by tool_use id. */
  toolCall(id: string): ToolCallState | undefined;
  /** Whether a recorded model turn already used this tool_use id. */
  hasToolUse(id: string): boolean;
  /** The conversation to send to the model. Every tool_use has its tool_result:
   * calls a crash or an interrupt left without one get an error result.
   * `pending` supplies results written but not yet acknowledged (by tool_use id),
   * as the fold will hold them once they are. */
  conversation(pending?: ReadonlyMap<string, AgentToolResult>): ConversationMessage[];
  /** The latest `session.placed`: the executor the session's calls go to (its workspace is there). */
  readonly placement: SessionPlaced | undefined;
  /** The latest `agent.context_compacted` folded: where the view starts. */
  readonly checkpoint: ViewCheckpoint | undefined;
  /** The turns of the view (those after the checkpoint's last_seq), oldest first. */
  viewEntries(): readonly Entry[];
  /**
   * The conversation as it would be with another checkpoint (and only its turns
   * up to `throughSeq`): what a compaction weighs, and summarises, before it is written.
   */
  conversationWith(checkpoint: ViewCheckpoint, throughSeq?: bigint): ConversationMessage[];
}

// Idle reasons that mean the last run failed, rather than finished a turn.
const failedStops: ReadonlySet<StopReason> = new Set([StopReason.ERROR, StopReason.RETRIES_EXHAUSTED]);

export function createSessionFold(sessionId: string, events: Iterable<Event> = []): SessionFold {
  let config: AgentConfig | undefined;
  let policy: ToolPolicy = toolPolicy(undefined);
  let tenant = "";
  let lastSeq = 0n;
  const eventIds = new Map<string, bigint>();
  let runState = RunState.UNSPECIFIED;
  let stopReason = StopReason.UNSPECIFIED;
  let runStartedAt: number | undefined;
  let turns = 0;
  let totalTokens = 0;
  let failed = false;
  let reschedules = 0;
  let retryAt: number | undefined;
  let entries: Entry[] = [];
  const calls = new Map<string, ToolCallState>();
  let checkpoint: ViewCheckpoint | undefined;
  let placement: SessionPlaced | undefined;
  let placementSeq = 0n;

  const fold: SessionFold = {
    apply(event) {
      if (eventIds.has(event.id)) return;
      eventIds.set(event.id, event.seq);
      if (event.seq > lastSeq) lastSeq = event.seq;
      const p = event.payload;
      switch (p.case) {
        case "sessionCreated":
          config = p.value.config;
          policy = toolPolicy(config);
          tenant = p.value.tenant;
          break;
        case "userMessage":
          entries.push({ seq: event.seq, kind: "user", text: p.value.text });
          failed = false;
          reschedules = 0;
          break;
        case "userInterrupt":
          entries.push({ seq: event.seq, kind: "interrupt", reason: p.value.reason });
          failed = false;
          reschedules = 0;
          break;
        case "agentMessage": {
          turns++;
          reschedules = 0;
          const turnCalls: ToolCallState[] = [];
          for (const block of p.value.content) {
            if (block.block.case !== "toolUse") continue;
            const call: ToolCallState = { toolUse: block.block.value };
            turnCalls.push(call);
            calls.set(call.toolUse.id, call);
          }
          entries.push({ seq: event.seq, kind: "agent", message: p.value, calls: turnCalls });
          break;
        }
        case "agentToolUseStarted": {
          const call = calls.get(p.value.toolUseId);
          if (call && call.startedEventId === undefined) call.startedEventId = event.id;
          break;
        }
        case "agentToolResult": {
          const call = calls.get(p.value.toolUseId);
          if (call) setResult(call, p.value, event);
          break;
        }
        case "userToolConfirmation":
        case "userCustomToolResult": {
          const call = calls.get(p.value.toolUseId);
          if (call) applyToolAction(call, event);
          break;
        }
        case "sessionStatus": {
          const before = runState;
          // A run waiting for its client goes on when it is answered: its wall time keeps counting meanwhile.
          const resumes = before === RunState.RESCHEDULING || isWaiting(before, stopReason);
          runState = p.value.state;
          stopReason = p.value.stopReason;
          failed = runState === RunState.IDLE && failedStops.has(stopReason);
          retryAt = undefined;
          if (runState === RunState.RESCHEDULING) {
            // The run goes on: its wall time keeps counting while it waits.
            reschedules++;
            retryAt = p.value.retryTime ? timestampMs(p.value.retryTime) : Date.now();
          } else if (runState === RunState.RUNNING) {
            if (!resumes || runStartedAt === undefined)
              runStartedAt = event.time ? timestampMs(event.time) : Date.now();
          } else if (!isWaiting(runState, stopReason)) {
            runStartedAt = undefined;
            reschedules = 0;
          }
          break;
        }
        case "spanModelRequest": {
          const u = p.value.usage;
          if (u) {
            totalTokens += Number(u.inputTokens + u.outputTokens + u.cacheCreationInputTokens + u.cacheReadInputTokens);
          }
          break;
        }
        case "agentContextCompacted": {
          const c = p.value;
          checkpoint = {
            seq: event.seq,
            summary: c.summary,
            firstSeq: c.firstSeq,
            lastSeq: c.lastSeq,
            clearedThroughSeq: c.clearedThroughSeq,
          };
          // The checkpoint's counters are absolute: a fold that starts from it
          // (and never saw the events before) counts on from the same numbers.
          turns = c.turns;
          totalTokens = Number(c.totalTokens);
          // What the summary stands for leaves memory: a long run stays the size of its view.
          entries = entries.filter((e) => e.seq > c.lastSeq);
          for (const [id, call] of calls)
            if (call.resultSeq !== undefined && call.resultSeq <= c.lastSeq) calls.delete(id);
          break;
        }
        case "sessionPlaced":
          // A wake from a checkpoint applies the latest placement before the events after it.
          if (event.seq >= placementSeq) {
            placement = p.value;
            placementSeq = event.seq;
          }
          break;
        case "sessionError":
        case undefined:
          break;
      }
    },
    sessionId,
    get config() {
      return config;
    },
    get tenant() {
      return tenant;
    },
    get placement() {
      return placement;
    },
    get lastSeq() {
      return lastSeq;
    },
    seqOf: (eventId) => eventIds.get(eventId),
    get runState() {
      return runState;
    },
    get stopReason() {
      return stopReason;
    },
    get runStartedAt() {
      return runStartedAt;
    },
    get turns() {
      return turns;
    },
    get totalTokens() {
      return totalTokens;
    },
    get failed() {
      return failed;
    },
    get reschedules() {
      return reschedules;
    },
    get retryAt() {
      return retryAt;
    },
    next() {
      if (runState === RunState.TERMINATED) return "terminated";
      // Asking again would fail the same way: only new input moves the session on.
      if (failed) return "idle";
      const last = entries.at(-1);
      if (last === undefined) return "idle";
      switch (last.kind) {
        case "user":
          return "model";
        case "interrupt":
          return "idle";
        case "agent": {
          const open = last.calls.filter((c) => c.result === undefined);
          if (open.length > 0) return open.every((c) => waitsForClient(c, policy)) ? "waiting" : "tools";
          if (last.calls.length > 0) return "model";
          return last.message.stopReason === StopReason.PAUSE_TURN ? "model" : "idle";
        }
      }
    },
    idleReason() {
      if (failed) return stopReason;
      const last = entries.at(-1);
      if (last?.kind === "agent" && fold.next() === "waiting") return StopReason.REQUIRES_ACTION;
      if (last?.kind === "interrupt") return StopReason.INTERRUPTED;
      if (last?.kind === "agent" && last.message.stopReason !== StopReason.UNSPECIFIED) return last.message.stopReason;
      return StopReason.END_TURN;
    },
    openCalls() {
      const last = entries.at(-1);
      return last?.kind === "agent" ? last.calls : [];
    },
    pendingCalls() {
      return fold.openCalls().filter((c) => waitsForClient(c, policy));
    },
    hasToolUse: (id) => calls.has(id),
    toolCall: (id) => calls.get(id),
    conversation: (pending) => buildConversation(entries, checkpoint, pending),
    get checkpoint() {
      return checkpoint;
    },
    viewEntries: () => entries,
    conversationWith: (other, throughSeq) =>
      buildConversation(throughSeq === undefined ? entries : entries.filter((e) => e.seq <= throughSeq), other),
  };
  for (const event of events) fold.apply(event);
  return fold;
}

function isWaiting(state: RunState, reason: StopReason): boolean {
  return state === RunState.IDLE && reason === StopReason.REQUIRES_ACTION;
}

function buildConversation(
  entries: readonly Entry[],
  checkpoint: ViewCheckpoint | undefined,
  pending: ReadonlyMap<string, AgentToolResult> = new Map(),
): ConversationMessage[] {
  const messages: ConversationMessage[] = [];
  // Consecutive messages of one role are merged, as the API would do, so
  // tool_result blocks always open the user message that follows their tool_use.
  const push = (role: ConversationMessage["role"], blocks: ConversationBlock[]) => {
    if (blocks.length === 0) return;
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  // The summary opens the view, as the first user turn, with a cache breakpoint
  // of its own: it stays the same until the next compaction.
  if (checkpoint && checkpoint.summary !== "") {
    push("user", [{ type: "text", text: summaryText(checkpoint), cacheBreakpoint: true }]);
  }
  const clearedThrough = checkpoint?.clearedThroughSeq ?? 0n;
  const lastSeq = checkpoint?.lastSeq ?? 0n;
  for (const entry of entries) {
    if (entry.seq <= lastSeq) continue;
    switch (entry.kind) {
      case "user":
        if (entry.text !== "") push("user", [{ type: "text", text: entry.text }]);
        break;
      case "interrupt":
        push("user", [{ type: "text", text: interruptText(entry.reason) }]);
        break;
      case "agent":
        push("assistant", assistantBlocks(entry.message));
        push(
          "user",
          entry.calls.map((call) =>
            call.resultSeq !== undefined && call.resultSeq <= clearedThrough && call.result
              ? clearedBlock(call, call.result)
              : resultBlock(call, call.result ?? pending.get(call.toolUse.id)),
          ),
        );
        break;
    }
  }
  return messages;
}

function assistantBlocks(message: AgentMessage): ConversationBlock[] {
  const blocks: ConversationBlock[] = [];
  for (const { block } of message.content) {
    switch (block.case) {
      case "text":
        // The API rejects empty text blocks.
        if (block.value.text !== "") blocks.push({ type: "text", text: block.value.text });
        break;
      case "thinking":
        blocks.push({ type: "thinking", thinking: block.value.thinking, signature: block.value.signature });
        break;
      case "redactedThinking":
        blocks.push({ type: "redacted_thinking", data: block.value.data });
        break;
      case "toolUse":
        blocks.push({
          type: "tool_use",
          id: block.value.id,
          name: block.value.name,
          input: parseToolInput(block.value.inputJson),
        });
        break;
      case undefined:
        break;
    }
  }
  return blocks;
}

function clearedBlock(call: ToolCallState, result: AgentToolResult): ConversationBlock {
  return {
    type: "tool_result",
    tool_use_id: call.toolUse.id,
    content: clearedResultText(result),
    is_error: result.isError,
  };
}

function resultBlock(call: ToolCallState, result: AgentToolResult | undefined): ConversationBlock {
  if (result) {
    // The API wants something to read; an empty output is still an answer.
    const content = result.output === "" ? "(no output)" : result.output;
    return { type: "tool_result", tool_use_id: call.toolUse.id, content, is_error: result.isError };
  }
  const content = call.startedEventId === undefined ? notRun : outcomeUnknown;
  return { type: "tool_result", tool_use_id: call.toolUse.id, content, is_error: true };
}
