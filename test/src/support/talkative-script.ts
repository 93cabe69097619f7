import { type FakeScript, type FakeTurn, scriptTurns } from "@reins/testkit";

/**
 * A window in which a session needs a summary after a few turns: each turn of
 * `talkativeScript` says about 1,250 tokens of text, which clearing tool
 * results cannot shrink.
 */
export const talkativeWindow = 10_000;

/** `turns` turns of long text and one `sh` call each, then the end of the task. */
export function talkativeScript(turns: number): FakeScript {
  const talk = (i: number) => `Step ${i}: ${"thinking out loud about the task ".repeat(150)}`;
  return scriptTurns([
    ...Array.from(
      { length: turns },
      (_, i): FakeTurn => ({
        content: [
          { type: "text", text: talk(i + 1) },
          { type: "tool_use", name: "sh", input: { command: `echo step ${i + 1}` } },
        ],
      }),
    ),
    { content: [{ type: "text", text: "All steps done." }] },
  ]);
}
