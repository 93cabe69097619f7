import type { ServiceStatus } from "../stack/health.js";
import type { Colors } from "../terminal.js";
import { renderTable } from "./table.js";

export function renderStatusTable(rows: readonly ServiceStatus[], c: Colors): string[] {
  return renderTable(
    [{ header: "SERVICE" }, { header: "URL" }, { header: "PID", align: "right" }, { header: "HEALTH" }],
    rows.map((r) => [r.service, r.url, r.pid === undefined ? "-" : String(r.pid), (r.ok ? c.green : c.red)(r.health)]),
    c,
  );
}
