import { readFileSync } from "node:fs";

/**
 * CPU time a process has used so far (user + system, all its threads), in ms,
 * from /proc (Linux): read before and after some work to see what it cost each
 * process on the way, which wall-clock latencies alone do not tell.
 */
export function cpuMsOf(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) * msPerTick;
}

// USER_HZ is 100 on every Linux this runs on (getconf CLK_TCK); Node has no call for it.
const msPerTick = 10;
