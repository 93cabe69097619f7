import { type FormEvent, useState } from "react";
import { errorText, type Services } from "../services.js";

/** Interrupt the turn in progress; send the session another message. */
export function SessionActions({
  services,
  sessionId,
  running,
}: {
  services: Services;
  sessionId: string;
  running: boolean;
}) {
  const [message, setMessage] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const act = async (call: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await call();
      return true;
    } catch (err) {
      setError(errorText(err));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const send = async (e: FormEvent) => {
    e.preventDefault();
    const text = message.trim();
    if (!text) return;
    if (await act(() => services.harness.sendMessage({ sessionId, message: text }))) setMessage("");
  };
  return (
    <section className="actions">
      <form onSubmit={send} aria-label="send a message">
        <textarea
          name="message"
          aria-label="message"
          rows={2}
          placeholder="Send the agent a message"
          value={message}
          onChange={(e) => setMessage(e.target.value)}
        />
        <div className="row">
          <button type="submit" disabled={busy || message.trim() === ""}>
            send
          </button>
          <button
            type="button"
            className="danger"
            disabled={busy || !running}
            onClick={() => act(() => services.harness.interrupt({ sessionId, reason: "interrupted from the console" }))}
          >
            interrupt
          </button>
        </div>
      </form>
      {error && <p className="error">{error}</p>}
    </section>
  );
}
