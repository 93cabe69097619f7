import { create } from "@bufbuild/protobuf";
import { RunState, SessionSchema } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { type ListSessions, loadSessionPages, sessionsPageSize } from "./session-pages.js";

// A list of `total` sessions served a page at a time, as the session service pages it.
function listOf(total: number): { list: ListSessions; calls: { pageToken: string; state: RunState }[] } {
  const calls: { pageToken: string; state: RunState }[] = [];
  const list: ListSessions = async ({ pageSize, pageToken, state }) => {
    calls.push({ pageToken, state });
    const from = pageToken === "" ? 0 : Number(pageToken);
    const to = Math.min(total, from + pageSize);
    const sessions = Array.from({ length: to - from }, (_, i) => create(SessionSchema, { sessionId: `s${from + i}` }));
    return { sessions, nextPageToken: to < total ? String(to) : "" };
  };
  return { list, calls };
}

describe("loadSessionPages", () => {
  it("reads as many pages as asked, following the page tokens, and says whether more are left", async () => {
    const { list, calls } = listOf(sessionsPageSize * 2 + 5);
    const one = await loadSessionPages(list, RunState.RUNNING, 1);
    expect(one.sessions).toHaveLength(sessionsPageSize);
    expect(one.more).toBe(true);
    const two = await loadSessionPages(list, RunState.RUNNING, 2);
    expect(two.sessions.map((s) => s.sessionId).slice(sessionsPageSize - 1, sessionsPageSize + 1)).toEqual([
      `s${sessionsPageSize - 1}`,
      `s${sessionsPageSize}`,
    ]);
    expect(two.more).toBe(true);
    const all = await loadSessionPages(list, RunState.RUNNING, 5);
    expect(all.sessions).toHaveLength(sessionsPageSize * 2 + 5);
    expect(all.more).toBe(false);
    expect(calls.at(-1)).toEqual({ pageToken: String(sessionsPageSize * 2), state: RunState.RUNNING });
  });

  it("stops at the last page, even when it is the first", async () => {
    const { list, calls } = listOf(3);
    expect(await loadSessionPages(list, RunState.UNSPECIFIED, 4)).toMatchObject({ more: false });
    expect(calls).toHaveLength(1);
  });
});
