import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { AgentConfigSchema, LimitsSchema, PermissionPolicy } from "@reins/proto";
import { type FormEvent, useEffect, useState } from "react";
import { navigate, sessionPath } from "../router.js";
import { errorText, type Services } from "../services.js";

/** Starts a session on the harness (task, tools, model, limits), then opens it. */
export function StartSessionForm({ services }: { services: Services }) {
  const [catalog, setCatalog] = useState<string[]>([]);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    services.harness.listToolCatalog({}, { signal: abort.signal }).then(
      (res) => setCatalog(res.tools.flatMap((t) => (t.tool ? [t.tool.name] : []))),
      // Without a catalog the tools are typed in by name.
      () => setCatalog([]),
    );
    return () => abort.abort();
  }, [services]);

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const text = (name: string) => String(form.get(name) ?? "").trim();
    const count = (name: string) => (text(name) === "" ? 0 : Number(text(name)));
    const tools = [
      ...form.getAll("tool").map(String),
      ...text("more-tools")
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== ""),
    ];
    const ask = form.get("ask") === "on";
    const wallSeconds = count("max-wall-seconds");
    for (const [name, value] of [
      ["max turns", count("max-turns")],
      ["token budget", count("max-total-tokens")],
      ["wall time", wallSeconds],
    ] as const) {
      if (!Number.isInteger(value) || value < 0) {
        setError(`${name} must be a whole number (0 or empty: no limit)`);
        return;
      }
    }
    const config = create(AgentConfigSchema, {
      model: text("model"),
      tools,
      limits: create(LimitsSchema, {
        maxTurns: count("max-turns"),
        maxTotalTokens: BigInt(count("max-total-tokens")),
        ...(wallSeconds > 0 ? { maxWallTime: create(DurationSchema, { seconds: BigInt(wallSeconds) }) } : {}),
      }),
      toolPermissions: ask ? Object.fromEntries(tools.map((t) => [t, PermissionPolicy.ALWAYS_ASK])) : {},
    });
    setBusy(true);
    setError(undefined);
    try {
      const res = await services.harness.startSession({ config, message: text("task"), title: text("title") });
      navigate(sessionPath(res.sessionId));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <details className="start-session">
      <summary>Start a session</summary>
      <form onSubmit={submit} aria-label="start a session">
        <label>
          task
          <textarea name="task" required rows={3} placeholder="What should the agent do?" />
        </label>
        <label>
          title
          <input name="title" placeholder="(optional)" />
        </label>
        <fieldset>
          <legend>tools</legend>
          {catalog.map((name) => (
            <label key={name} className="inline">
              <input type="checkbox" name="tool" value={name} /> {name}
            </label>
          ))}
          <input name="more-tools" aria-label="other tools" placeholder="other tools, comma-separated" />
          <label className="inline">
            <input type="checkbox" name="ask" /> ask before each tool call
          </label>
        </fieldset>
        <div className="row">
          <label>
            model
            <input name="model" placeholder="the harness's default" />
          </label>
          <label>
            max turns
            <input name="max-turns" inputMode="numeric" />
          </label>
          <label>
            token budget
            <input name="max-total-tokens" inputMode="numeric" />
          </label>
          <label>
            wall time (s)
            <input name="max-wall-seconds" inputMode="numeric" />
          </label>
        </div>
        <button type="submit" disabled={busy}>
          {busy ? "starting…" : "start"}
        </button>
        {error && <p className="error">{error}</p>}
      </form>
    </details>
  );
}
