import { writeSync } from "node:fs";
import type { AppendHook } from "@reins/harness-core";
import { type Event, eventNameOf, parseEventTypeName } from "@reins/proto";
import type { Logger } from "@reins/service-kit";

/**
 * Fault-injection hook for crash tests: `REINS_FAULT_CRASH_AFTER=<event
 * name>:<n>` (e.g. `agent.tool_use_started:1`) makes the process SIGKILL itself
 * right after the append holding the n-th event of that name (counted over the
 * process's life, all sessions) is acknowledged by the session service. No
 * cleanup, no flush: exactly what a crash at that point looks like. Unset in
 * production; the daemon logs a warning when it is set.
 *
 * `seq:<n>` instead crashes right after the append that wrote seq n of a
 * session (the first session to reach it), whatever the event: a crash test can
 * walk every point of a session's log.
 */
export function crashHook(spec: string | undefined, log: Logger): AppendHook | undefined {
  if (!spec) return undefined;
  const match = /^([a-z_.]+):(\d+)$/.exec(spec);
  const bySeq = match?.[1] === "seq";
  if (!match?.[1] || !match[2] || (!bySeq && parseEventTypeName(match[1]) === undefined) || Number(match[2]) < 1) {
    throw new Error(
      `REINS_FAULT_CRASH_AFTER=${JSON.stringify(spec)} must be <event name>:<n> or seq:<n>, e.g. agent.tool_result:1`,
    );
  }
  const name = match[1];
  const n = Number(match[2]);
  log.warn({ event: name, n }, "fault injection armed: this process will SIGKILL itself");
  let seen = 0;
  const hit = bySeq
    ? (event: Event) => event.seq === BigInt(n)
    : (event: Event) => eventNameOf(event) === name && ++seen === n;
  return (sessionId, events) => {
    for (const event of events) {
      if (!hit(event)) continue;
      // Written synchronously: an asynchronous log line would die with the process.
      const line = {
        level: 40,
        time: Date.now(),
        pid: process.pid,
        name: "reins-harness",
        sessionId,
        event: eventNameOf(event),
      };
      writeSync(2, `${JSON.stringify({ ...line, seq: String(event.seq), msg: "fault injection: crashing now" })}\n`);
      process.kill(process.pid, "SIGKILL");
    }
  };
}

/**
 * `REINS_FAULT_STALL_AFTER=<event name>:<n>:<ms>` blocks the event loop for
 * `ms` right after the append holding the n-th event of that name: what a
 * starved CPU or a long synchronous stretch looks like to the wake queue (its
 * in-progress acks must keep flowing from the keeper thread).
 */
export function stallHook(spec: string | undefined, log: Logger): AppendHook | undefined {
  if (!spec) return undefined;
  const match = /^([a-z_.]+):(\d+):(\d+)$/.exec(spec);
  if (!match?.[1] || parseEventTypeName(match[1]) === undefined || Number(match[2]) < 1) {
    throw new Error(
      `REINS_FAULT_STALL_AFTER=${JSON.stringify(spec)} must be <event name>:<n>:<ms>, e.g. agent.tool_use_started:1:5000`,
    );
  }
  const name = match[1];
  const n = Number(match[2]);
  const ms = Number(match[3]);
  log.warn({ event: name, n, ms }, "fault injection armed: this process will block its event loop");
  let seen = 0;
  return (sessionId, events) => {
    for (const event of events) {
      if (eventNameOf(event) !== name || ++seen !== n) continue;
      const line = { level: 40, time: Date.now(), pid: process.pid, name: "reins-harness", sessionId, ms };
      writeSync(2, `${JSON.stringify({ ...line, seq: String(event.seq), msg: "fault injection: stalling now" })}\n`);
      const until = Date.now() + ms;
      while (Date.now() < until) {
        // blocked, on purpose
      }
    }
  };
}

/** Every hook in turn. */
export function allHooks(...hooks: Array<AppendHook | undefined>): AppendHook | undefined {
  const set = hooks.filter((h): h is AppendHook => h !== undefined);
  if (set.length === 0) return undefined;
  return (sessionId, events) => {
    for (const hook of set) hook(sessionId, events);
  };
}
