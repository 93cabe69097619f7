import { ToolConfirmationResult } from "@reins/proto";
import { type FormEvent, useState } from "react";
import { errorText, type Services } from "../services.js";
import { prettyJson } from "../timeline/format.js";
import { LongText } from "../timeline/long-text.js";
import type { PendingCall } from "../timeline/timeline-state.js";

/** The calls a session waits on: allow or deny each (ConfirmToolUse), or answer a custom tool's (SendCustomToolResult). */
export function PendingCalls({
  services,
  sessionId,
  calls,
}: {
  services: Services;
  sessionId: string;
  calls: readonly PendingCall[];
}) {
  if (calls.length === 0) return null;
  return (
    <section className="pending" aria-label="pending tool calls">
      <h2>Waiting for you</h2>
      {calls.map((call) => (
        <PendingCallView key={call.toolUseId} services={services} sessionId={sessionId} call={call} />
      ))}
    </section>
  );
}

function PendingCallView({ services, sessionId, call }: { services: Services; sessionId: string; call: PendingCall }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [denyMessage, setDenyMessage] = useState("");
  const decide = async (result: ToolConfirmationResult) => {
    setBusy(true);
    setError(undefined);
    try {
      await services.harness.confirmToolUse({
        sessionId,
        toolUseId: call.toolUseId,
        result,
        denyMessage: result === ToolConfirmationResult.DENY ? denyMessage : "",
      });
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <article className="pending-call" data-tool-use-id={call.toolUseId}>
      <p className="tool-name">
        {call.name} <code>{call.toolUseId}</code>
      </p>
      <LongText text={prettyJson(call.inputJson)} label="input" />
      {call.kind === "confirm" ? (
        <div className="row">
          <button type="button" disabled={busy} onClick={() => decide(ToolConfirmationResult.ALLOW)}>
            approve
          </button>
          <input
            aria-label="reason to deny"
            placeholder="reason (optional, the model reads it)"
            value={denyMessage}
            onChange={(e) => setDenyMessage(e.target.value)}
          />
          <button type="button" className="danger" disabled={busy} onClick={() => decide(ToolConfirmationResult.DENY)}>
            deny
          </button>
        </div>
      ) : (
        <CustomResultForm services={services} sessionId={sessionId} call={call} onError={setError} />
      )}
      {error && <p className="error">{error}</p>}
    </article>
  );
}

/** A custom tool runs on the client's side: here, the user is that client and types its result. */
function CustomResultForm({
  services,
  sessionId,
  call,
  onError,
}: {
  services: Services;
  sessionId: string;
  call: PendingCall;
  onError: (message: string | undefined) => void;
}) {
  const [output, setOutput] = useState("");
  const [isError, setIsError] = useState(false);
  const [busy, setBusy] = useState(false);
  const send = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    onError(undefined);
    try {
      await services.harness.sendCustomToolResult({ sessionId, toolUseId: call.toolUseId, output, isError });
    } catch (err) {
      onError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={send} aria-label={`result of ${call.toolUseId}`}>
      <textarea
        aria-label="tool result"
        rows={2}
        placeholder="the tool's result, as the model will read it"
        value={output}
        onChange={(e) => setOutput(e.target.value)}
      />
      <div className="row">
        <label className="inline">
          <input type="checkbox" checked={isError} onChange={(e) => setIsError(e.target.checked)} /> an error
        </label>
        <button type="submit" disabled={busy}>
          send result
        </button>
      </div>
    </form>
  );
}
