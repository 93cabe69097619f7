import { describe, expect, it } from "vitest";
import { createLocalDeltaBus, type DeltaBus } from "../model/delta-bus.js";
import { streamText } from "./text-stream.js";

const piece = (sessionId: string, text: string) => ({
  sessionId,
  turn: 1,
  index: 0,
  text,
  thinking: false,
  attempt: 1,
});

/** The local bus, telling when a reader's subscription is in place. */
function watchedBus(): { bus: DeltaBus; subscribed: () => Promise<void> } {
  const inner = createLocalDeltaBus();
  let ready: (() => void) | undefined;
  let next = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const bus: DeltaBus = {
    publish: (delta) => inner.publish(delta),
    async subscribe(sessionId, onDelta) {
      const unsubscribe = await inner.subscribe(sessionId, onDelta);
      ready?.();
      return unsubscribe;
    },
  };
  const subscribed = async () => {
    await next;
    next = new Promise<void>((resolve) => {
      ready = resolve;
    });
  };
  return { bus, subscribed };
}

describe("streamText", () => {
  it("yields the session's deltas published after it subscribed, in order, and no other session's", async () => {
    const { bus, subscribed } = watchedBus();
    const leave = new AbortController();
    const stream = streamText({ deltas: bus, sessionId: "s1", signal: leave.signal });
    const first = stream.next(); // subscribes
    await subscribed();
    for (const text of ["a", "b", "c"]) {
      bus.publish(piece("s2", `other ${text}`));
      bus.publish(piece("s1", text));
    }
    const texts = [(await first).value?.delta?.text];
    for await (const item of stream) {
      texts.push(item.delta?.text);
      if (texts.length === 3) leave.abort();
    }
    expect(texts).toEqual(["a", "b", "c"]);
  });

  it("holds at most the backlog for a reader that does not read, and counts what it dropped on the next delta", async () => {
    const { bus, subscribed } = watchedBus();
    const leave = new AbortController();
    const stream = streamText({ deltas: bus, sessionId: "s1", signal: leave.signal, backlog: 4 });
    const first = stream.next();
    await subscribed();
    for (let i = 0; i < 10; i++) bus.publish(piece("s1", `${i}`));
    const got = [await first];
    for (let i = 0; i < 3; i++) got.push(await stream.next());
    expect(got.map((r) => [r.value?.delta?.text, r.value?.dropped])).toEqual([
      ["0", 0n],
      ["1", 0n],
      ["2", 0n],
      ["3", 0n],
    ]);
    // The reader caught up: the next delta is taken, and says six were lost before it.
    bus.publish(piece("s1", "10"));
    const next = await stream.next();
    expect([next.value?.delta?.text, next.value?.dropped]).toEqual(["10", 6n]);
    leave.abort();
    expect((await stream.next()).done).toBe(true);
  });

  it("ends when the reader leaves while waiting, and stops listening", async () => {
    const { bus, subscribed } = watchedBus();
    const leave = new AbortController();
    const stream = streamText({ deltas: bus, sessionId: "s1", signal: leave.signal, backlog: 1 });
    const waiting = stream.next();
    await subscribed();
    leave.abort();
    expect((await waiting).done).toBe(true);
    // Nothing is held for a reader that left: a second reader gets only its own deltas.
    bus.publish(piece("s1", "late"));
    const again = new AbortController();
    const second = streamText({ deltas: bus, sessionId: "s1", signal: again.signal });
    const next = second.next();
    await subscribed();
    bus.publish(piece("s1", "fresh"));
    expect((await next).value?.delta?.text).toBe("fresh");
    again.abort();
    await second.return(undefined);
  });
});
