import { create } from "@bufbuild/protobuf";
import { EventSchema } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { encodeBatch, splitBatch } from "./batch-codec.js";
import type { LogReader } from "./log-reader.js";
import type { StoredBatch } from "./session-state.js";
import { createStateCache } from "./state-cache.js";

// Pure accounting: the cache's budget must follow what its copies hold in
// memory, not only their stored bytes. An in-memory log stands in for NATS.

const created = (sessionId: string) =>
  create(EventSchema, { id: `${sessionId}-0`, seq: 1n, payload: { case: "sessionCreated", value: {} } });

/** A stored batch of `count` short user messages after seq `after`, as a reader gives it (not decoded). */
function messages(sessionId: string, after: number, count: number, streamSeq: number): StoredBatch {
  const events = Array.from({ length: count }, (_, i) =>
    create(EventSchema, {
      id: `${sessionId}-${after + i + 1}`,
      seq: BigInt(after + i + 1),
      payload: { case: "userMessage", value: { text: "short" } },
    }),
  );
  const data = encodeBatch(events);
  return { streamSeq, size: data.length, wire: splitBatch(data) };
}

const createdBatch = (sessionId: string, streamSeq: number): StoredBatch => {
  const event = created(sessionId);
  const data = encodeBatch([event]);
  return { streamSeq, size: data.length, wire: splitBatch(data), events: [event] };
};

const noReader: LogReader = {
  last: async () => undefined,
  at: async () => undefined,
  firstFrom: async () => undefined,
  scan: async () => undefined,
  seek: async () => undefined,
};

describe("state cache accounting", () => {
  it("counts per-event memory, not just stored bytes: many short events fill the budget", () => {
    const cache = createStateCache({ reader: noReader, subjectOf: (id) => id, maxBytes: 128 * 1024 });
    cache.adoptCreated("small", createdBatch("small", 1));
    const big = cache.adoptCreated("big", createdBatch("big", 2));
    cache.applyWritten(big, messages("big", 1, 1_000, 3));
    // 1,000 short events are about 20 KB stored, well inside the budget by stored bytes alone.
    expect(big.bytes).toBeLessThan(32 * 1024);
    expect(big.memoryBytes).toBeGreaterThan(128 * 1024);
    expect(cache.peek("small")).toBeUndefined();
    expect(cache.peek("big")).toBe(big);
  });

  it("counts events decoded on read, and evicts others as they grow", () => {
    const cache = createStateCache({ reader: noReader, subjectOf: (id) => id, maxBytes: 384 * 1024 });
    const big = cache.adoptCreated("big", createdBatch("big", 1));
    cache.applyWritten(big, messages("big", 1, 1_000, 2));
    cache.adoptCreated("small", createdBatch("small", 3));
    const undecoded = big.memoryBytes;
    // Both fit while big's events are only stored bytes.
    expect(cache.peek("small")).toBeDefined();
    for (let seq = 2; seq <= big.lastSeq; seq++) big.at(seq);
    expect(big.memoryBytes - undecoded).toBeGreaterThan(1_000 * 256);
    // big is the least recently put, yet the one in use: small goes.
    expect(cache.peek("small")).toBeUndefined();
    expect(cache.peek("big")).toBe(big);
  });
});
