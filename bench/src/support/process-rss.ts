import { readFileSync } from "node:fs";

/** A process's resident set size now, in MB, from /proc (Linux). */
export function rssMbOf(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}
