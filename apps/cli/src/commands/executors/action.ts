import { type JsonObject, toJson } from "@bufbuild/protobuf";
import { type ExecutorInfo, ExecutorInfoSchema, ExecutorRegistryService } from "@reins/proto";
import type { Command } from "commander";
import { clientFor } from "../../clients.js";
import type { CliContext } from "../../context.js";
import { formatAge, timestampMs } from "../../render/format.js";
import { renderTable } from "../../render/table.js";
import type { Colors } from "../../terminal.js";

export interface ExecutorsOptions {
  label?: Record<string, string>;
  tool?: string[];
  json?: boolean;
}

// The registry is served by the session service, with the same token.
async function registry(ctx: CliContext, command: Command) {
  const targets = await ctx.targets(command);
  return clientFor(ExecutorRegistryService, targets.sessionUrl, targets.token);
}

/** `reins executors`: ListExecutors as a table, or NDJSON. */
export async function listExecutors(ctx: CliContext, command: Command, options: ExecutorsOptions): Promise<void> {
  const { executors } = await (await registry(ctx, command)).listExecutors({
    selector: options.label ?? {},
    tools: options.tool ?? [],
  });
  if (options.json) {
    for (const e of executors) ctx.terminal.print(executorJson(e));
    return;
  }
  if (executors.length === 0) {
    const filtered = options.label !== undefined || options.tool !== undefined;
    ctx.terminal.note(filtered ? "no registered executor matches" : "no executors registered");
    return;
  }
  for (const line of renderExecutorsTable(executors, ctx.terminal.colors, Date.now())) ctx.terminal.print(line);
}

/** `reins executors drain|undrain <id>`: DrainExecutor, and the entry after it. */
export async function setDraining(ctx: CliContext, command: Command, id: string, draining: boolean): Promise<void> {
  const { executor } = await (await registry(ctx, command)).drainExecutor({ id, draining });
  const c = ctx.terminal.colors;
  const running = executor ? ` (${executor.runningCalls} running, ${executor.queuedCalls} queued)` : "";
  ctx.terminal.print(
    draining
      ? `${c.green("✔")} ${id} draining: no new sessions are placed on it; the calls it runs finish${running}`
      : `${c.green("✔")} ${id} live: sessions are placed on it again`,
  );
}

// "state" as the table shows it: protobuf JSON leaves `draining: false` out.
export function executorJson(executor: ExecutorInfo): string {
  return JSON.stringify({
    type: "executor",
    state: executor.draining ? "draining" : "live",
    ...(toJson(ExecutorInfoSchema, executor) as JsonObject),
  });
}

// Heartbeats come every few seconds: "just now" would hide a host that stopped.
function heartbeatAge(executor: ExecutorInfo, nowMs: number): string {
  const ms = timestampMs(executor.heartbeatTime);
  if (ms === undefined) return "";
  const age = Math.max(0, nowMs - ms);
  return age < 60_000 ? `${(age / 1000).toFixed(1)}s ago` : formatAge(executor.heartbeatTime, nowMs);
}

/** The `reins executors` table. Pure, for tests. */
export function renderExecutorsTable(executors: readonly ExecutorInfo[], c: Colors, nowMs: number): string[] {
  return renderTable(
    [
      { header: "ID" },
      { header: "ADDRESS" },
      { header: "STATE" },
      { header: "CALLS", align: "right" },
      { header: "RUNTIMES" },
      { header: "LABELS", maxWidth: 40 },
      { header: "HEARTBEAT" },
    ],
    executors.map((e) => [
      e.id,
      e.address,
      e.draining ? c.yellow("draining") : c.green("live"),
      `${e.runningCalls}/${e.queuedCalls}/${e.capacity}`,
      e.runtimes.join(","),
      Object.entries(e.labels)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
      heartbeatAge(e, nowMs),
    ]),
    c,
  );
}
