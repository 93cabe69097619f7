import type { ServiceRecord } from "../stack/state-file.js";
import type { Colors } from "../terminal.js";
import { renderTable } from "./table.js";

/** Where each daemon of the stack serves its Prometheus metrics ("off" when its listener is). */
export function renderMetricsTable(services: readonly ServiceRecord[], c: Colors): string[] {
  const daemons = services.filter((s) => s.name === "session" || s.name === "harness" || s.name === "executor");
  return renderTable(
    [{ header: "SERVICE" }, { header: "METRICS" }],
    daemons.map((s) => [s.name, s.metricsUrl ?? c.dim("off")]),
    c,
  );
}
