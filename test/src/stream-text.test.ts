import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type StreamTextResponse, TextDeltaSchema } from "@reins/proto";
import { scriptTurns } from "@reins/testkit";
import { connect, type NatsConnection } from "nats";
import { describe, expect, it } from "vitest";
import { startHarnessStack } from "./support/harness-stack.js";

// StreamText through the real harness daemon: the deltas come over core NATS from
// whichever replica runs the session, so the test can also publish on the bus
// itself, as another replica would, to know when the reader's subscription is
// in place and to flood a reader that does not read.

const subject = (sessionId: string) => `reins.deltas.${sessionId}`;

function publishDelta(nc: NatsConnection, sessionId: string, text: string): void {
  nc.publish(
    subject(sessionId),
    toBinary(TextDeltaSchema, create(TextDeltaSchema, { sessionId, turn: 1, index: 0, text, attempt: 1 })),
  );
}

/**
 * Publishes a marker until the reader has it: from then on every delta published
 * reaches the reader. One marker at a time, each after the previous was flushed.
 */
async function untilSubscribed(nc: NatsConnection, sessionId: string, seen: () => boolean): Promise<number> {
  let markers = 0;
  while (!seen()) {
    publishDelta(nc, sessionId, `marker-${markers++}`);
    await nc.flush();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return markers;
}

const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");

describe("StreamText", { timeout: 120_000 }, () => {
  it("follows a running session's text as it streams, and the text adds up to the agent.message", async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held: () => void = () => {};
    const holding = new Promise<void>((resolve) => {
      held = resolve;
    });
    const script = scriptTurns([
      {
        content: [{ type: "text", text: words }],
        hold: () => {
          held();
          return released;
        },
      },
    ]);
    await using stack = await startHarnessStack(script);
    const nc = await connect({ servers: stack.nats.url });
    try {
      const { sessionId } = await stack.client().startSession({ config: { model: "claude-test" }, message: "talk" });
      await holding; // the first words are out; the rest waits for the reader

      const leave = new AbortController();
      const items: StreamTextResponse[] = [];
      let gotMarker = false;
      let text = "";
      const reading = (async () => {
        try {
          for await (const item of stack.client().streamText({ sessionId }, { signal: leave.signal })) {
            items.push(item);
            const piece = item.delta?.text ?? "";
            if (piece.startsWith("marker-")) gotMarker = true;
            else text += piece;
            if (text.endsWith("word199")) leave.abort();
          }
        } catch (err) {
          if (!leave.signal.aborted) throw err;
        }
      })();
      await untilSubscribed(nc, sessionId, () => gotMarker);
      release();
      await reading;

      const events = await stack.settled(sessionId);
      const message = events.find((e) => e.payload.case === "agentMessage");
      const said = message?.payload.case === "agentMessage" ? message.payload.value : undefined;
      const full = said?.content.map((b) => (b.block.case === "text" ? b.block.value.text : "")).join("") ?? "";
      expect(full).toBe(words);
      // Everything after the first piece (written before the reader came) arrived, in order, once.
      expect(text.length).toBeGreaterThan(0);
      expect(full.endsWith(text)).toBe(true);
      expect(
        full
          .slice(0, full.length - text.length)
          .split(" ")
          .filter(Boolean).length,
      ).toBeLessThanOrEqual(3);
      expect(items.every((i) => i.dropped === 0n && i.delta?.sessionId === sessionId)).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it("drops what a stalled reader cannot take and says how much, counting every delta", async () => {
    await using stack = await startHarnessStack(scriptTurns([{ content: [{ type: "text", text: "short" }] }]));
    const nc = await connect({ servers: stack.nats.url });
    const leave = new AbortController();
    try {
      const { sessionId } = await stack.client().startSession({ config: { model: "claude-test" }, message: "hi" });
      await stack.settled(sessionId);
      const stream = stack.client().streamText({ sessionId }, { signal: leave.signal })[Symbol.asyncIterator]();

      let first: StreamTextResponse | undefined;
      const pending = stream.next().then((r) => {
        first = r.value as StreamTextResponse;
      });
      const markers = await untilSubscribed(nc, sessionId, () => first !== undefined);
      await pending;
      const seenMarker = Number(first?.delta?.text.replace("marker-", ""));

      // The reader stalls while the bus floods it.
      const flood = 20_000;
      for (let i = 0; i < flood; i++) publishDelta(nc, sessionId, `flood-${i}`);
      await nc.flush();

      // Then it reads again, until an end marker (published after the flood) arrives.
      let ends = 0;
      let ended = false;
      const publishing = (async () => {
        while (!ended) {
          publishDelta(nc, sessionId, `end-${ends++}`);
          await nc.flush();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      let received = 0;
      let floodReceived = 0;
      let dropped = 0n;
      let lastEnd = -1;
      for (;;) {
        const { value, done } = await stream.next();
        if (done) throw new Error("the stream ended before the end marker");
        received++;
        dropped += value.dropped;
        const text = value.delta?.text ?? "";
        if (text.startsWith("flood-")) floodReceived++;
        if (text.startsWith("end-")) {
          lastEnd = Number(text.replace("end-", ""));
          break;
        }
      }
      ended = true;
      await publishing;

      // Every delta published after the first marker seen, up to the end marker
      // that arrived, was either delivered or counted as dropped.
      const published = markers - 1 - seenMarker + flood + lastEnd + 1;
      expect(BigInt(received) + dropped).toBe(BigInt(published));
      expect(dropped).toBeGreaterThan(0n);
      expect(floodReceived).toBeLessThan(flood);
    } finally {
      leave.abort();
      await nc.close();
    }
  });

  it("answers NOT_FOUND for a session that does not exist and INVALID_ARGUMENT for a malformed id", async () => {
    await using stack = await startHarnessStack(scriptTurns([]));
    const read = async (sessionId: string) => {
      for await (const _ of stack.client().streamText({ sessionId })) break;
    };
    const missing = await read("sess_doesnotexist").catch((err: unknown) => ConnectError.from(err));
    expect(missing).toMatchObject({ code: Code.NotFound });
    const bad = await read("not a session id!").catch((err: unknown) => ConnectError.from(err));
    expect(bad).toMatchObject({ code: Code.InvalidArgument });
    expect((bad as ConnectError).rawMessage).toMatch(/session_id/);
  });
});
