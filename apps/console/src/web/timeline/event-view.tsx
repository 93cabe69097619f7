import type { ContentBlock, Event } from "@reins/proto";
import { PermissionPolicy, RunState, ToolConfirmationResult } from "@reins/proto";
import { memo } from "react";
import {
  durationMs,
  formatCost,
  formatCount,
  formatDuration,
  formatTime,
  formatUsage,
  prettyJson,
  stateName,
  stopReasonName,
} from "./format.js";
import { LongText } from "./long-text.js";

/** The event's type as the log names it (`agent.tool_result`), for labels and CSS classes. */
export function eventTypeName(event: Event): string {
  switch (event.payload.case) {
    case "sessionCreated":
      return "session.created";
    case "userMessage":
      return "user.message";
    case "userInterrupt":
      return "user.interrupt";
    case "agentMessage":
      return "agent.message";
    case "agentToolUseStarted":
      return "agent.tool_use_started";
    case "agentToolResult":
      return "agent.tool_result";
    case "sessionStatus":
      return "session.status";
    case "spanModelRequest":
      return "span.model_request";
    case "sessionError":
      return "session.error";
    case "agentContextCompacted":
      return "agent.context_compacted";
    case "agentCustomToolUse":
      return "agent.custom_tool_use";
    case "userToolConfirmation":
      return "user.tool_confirmation";
    case "userCustomToolResult":
      return "user.custom_tool_result";
    case "sessionPlaced":
      return "session.placed";
    default:
      return "unknown";
  }
}

/**
 * One event of the timeline, anchored `#seq-<n>` so a link can point at it.
 * Recorded events never change: a long timeline re-renders only what is new.
 */
export const EventView = memo(function EventView({ event, targeted }: { event: Event; targeted: boolean }) {
  const type = eventTypeName(event);
  const seq = String(event.seq);
  return (
    <li
      id={`seq-${seq}`}
      data-seq={seq}
      data-type={type}
      className={`event ${type.replaceAll(".", "-")}${targeted ? " targeted" : ""}`}
    >
      <div className="event-head">
        <a className="seq" href={`#seq-${seq}`} title="link to this event">
          #{seq}
        </a>
        <span className="type">{type}</span>
        <time>{formatTime(event.time)}</time>
      </div>
      <div className="event-body">
        <EventBody event={event} />
      </div>
    </li>
  );
});

function EventBody({ event }: { event: Event }) {
  const p = event.payload;
  switch (p.case) {
    case "sessionCreated": {
      const c = p.value.config;
      const ask = Object.entries(c?.toolPermissions ?? {})
        .filter(([, policy]) => policy === PermissionPolicy.ALWAYS_ASK)
        .map(([name]) => name);
      return (
        <dl className="facts">
          {p.value.title && <Fact name="title" value={p.value.title} />}
          <Fact name="model" value={c?.model || "the harness's default"} />
          <Fact name="tools" value={c?.tools.join(", ") || "none"} />
          {ask.length > 0 && <Fact name="ask before" value={ask.join(", ")} />}
          {c?.limits?.maxTurns ? <Fact name="max turns" value={String(c.limits.maxTurns)} /> : null}
          {c?.limits?.maxTotalTokens ? <Fact name="token budget" value={formatCount(c.limits.maxTotalTokens)} /> : null}
          {c?.limits?.maxWallTime ? (
            <Fact name="wall time" value={formatDuration(durationMs(c.limits.maxWallTime))} />
          ) : null}
          {p.value.tenant && <Fact name="tenant" value={p.value.tenant} />}
        </dl>
      );
    }
    case "userMessage":
      return <p className="message user">{p.value.text}</p>;
    case "userInterrupt":
      return <p className="interrupt">Interrupted{p.value.reason ? `: ${p.value.reason}` : ""}</p>;
    case "agentMessage":
      return (
        <>
          {p.value.content.map((block, i) => (
            // Blocks of a recorded message never change: their position is their identity.
            // biome-ignore lint/suspicious/noArrayIndexKey: see above
            <MessageBlock key={i} block={block} />
          ))}
          <p className="meta">
            {stopReasonName(p.value.stopReason)} · {formatUsage(p.value.usage)}
          </p>
        </>
      );
    case "agentToolUseStarted":
      return (
        <>
          <p className="tool-name">▶ {p.value.name}</p>
          <LongText text={prettyJson(p.value.inputJson)} label="input" />
        </>
      );
    case "agentToolResult": {
      const v = p.value;
      const outcome = v.isError ? "error" : "ok";
      return (
        <>
          <p className={`tool-name ${outcome}`}>
            {v.isError ? "✘" : "✔"} {v.name} · {outcome}
            {v.exitCode !== 0 || !v.isError ? ` · exit ${v.exitCode}` : ""} · {formatDuration(durationMs(v.duration))}
            {v.truncated ? " · truncated" : ""}
          </p>
          <LongText text={v.output} label="output" />
        </>
      );
    }
    case "sessionStatus": {
      const v = p.value;
      const reason = stopReasonName(v.stopReason);
      return (
        <p className={`status state-${stateName(v.state)}`}>
          {stateName(v.state)}
          {reason && ` · ${reason}`}
          {v.detail && ` · ${v.detail}`}
          {v.pendingToolUseIds.length > 0 && ` · waiting for ${v.pendingToolUseIds.join(", ")}`}
          {v.state === RunState.RESCHEDULING && v.retryAttempt > 0 && ` · retry ${v.retryAttempt}`}
        </p>
      );
    }
    case "spanModelRequest": {
      const v = p.value;
      return (
        <p className="meta">
          {v.model} · {formatDuration(durationMs(v.latency))} · {formatUsage(v.usage)} · {formatCost(v.costUsd)}
          {v.attempts > 1 && ` · ${v.attempts} attempts`}
          {v.error && <span className="error"> · {v.error}</span>}
        </p>
      );
    }
    case "sessionError":
      return (
        <p className="error">
          {p.value.kind && `${p.value.kind}: `}
          {p.value.message}
          {p.value.retryable && " (retryable)"}
        </p>
      );
    case "agentContextCompacted": {
      const v = p.value;
      return (
        <>
          <p className="meta">
            context compacted: events #{String(v.firstSeq)}–#{String(v.lastSeq)} · {formatCount(v.tokensBefore)} →{" "}
            {formatCount(v.tokensAfter)} tokens
            {v.toolResultsCleared > 0 && ` · ${v.toolResultsCleared} tool results cleared`}
            {v.reason && ` · ${v.reason}`}
          </p>
          {v.summary && <LongText text={v.summary} label="summary" />}
        </>
      );
    }
    case "agentCustomToolUse":
      return (
        <>
          <p className="tool-name">▶ {p.value.name} (custom tool: the client runs it)</p>
          <LongText text={prettyJson(p.value.inputJson)} label="input" />
        </>
      );
    case "userToolConfirmation": {
      const allowed = p.value.result === ToolConfirmationResult.ALLOW;
      return (
        <p className={allowed ? "ok" : "error"}>
          {allowed ? "allowed" : "denied"} {p.value.toolUseId}
          {p.value.denyMessage && `: ${p.value.denyMessage}`}
        </p>
      );
    }
    case "userCustomToolResult":
      return (
        <>
          <p className={p.value.isError ? "error" : "ok"}>result for {p.value.toolUseId}</p>
          <LongText text={p.value.output} label="output" />
        </>
      );
    case "sessionPlaced":
      return (
        <p className="meta">
          placed on {p.value.executorId || p.value.executorAddress}
          {p.value.reason && ` · ${p.value.reason}`}
        </p>
      );
    default:
      return <p className="meta">an event this console does not know</p>;
  }
}

function MessageBlock({ block }: { block: ContentBlock }) {
  const b = block.block;
  switch (b.case) {
    case "text":
      return <p className="message agent">{b.value.text}</p>;
    case "thinking":
      return (
        <details className="thinking">
          <summary>thinking</summary>
          <p className="message">{b.value.thinking}</p>
        </details>
      );
    case "redactedThinking":
      return <p className="meta">thinking (redacted)</p>;
    case "toolUse":
      return (
        <p className="tool-call">
          calls <strong>{b.value.name}</strong> <code>{b.value.id}</code>
        </p>
      );
    default:
      return null;
  }
}

function Fact({ name, value }: { name: string; value: string }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </>
  );
}
