import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createOutputCollector } from "./output-collector.js";

const nonce = "__reins_exit_0123456789abcdef01234567:";

function frame(stream: 1 | 2, data: string | Buffer): Buffer {
  const payload = typeof data === "string" ? Buffer.from(data) : data;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Feeds `bytes` in pieces cut at `cuts` (positions), as a socket might deliver them. */
function feed(bytes: Buffer, cuts: number[], maxBytes = 1 << 20) {
  const collector = createOutputCollector({ nonce, maxBytes });
  let last = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    collector.push(bytes.subarray(last, cut));
    last = cut;
  }
  collector.push(bytes.subarray(last));
  return collector;
}

describe("createOutputCollector", () => {
  it("separates stdout from stderr and reads the exit code from both trailers", () => {
    const c = feed(
      Buffer.concat([
        frame(1, "out 1\n"),
        frame(2, "err 1\n"),
        frame(1, `out 2\n${nonce}3:0\n`),
        frame(2, `${nonce}3:0\n`),
      ]),
      [],
    );
    expect(c.stdout.kept.toString()).toBe("out 1\nout 2\n");
    expect(c.stderr.kept.toString()).toBe("err 1\n");
    expect(c.stdout.exitCode).toBe(3);
    expect(c.complete).toBe(true);
  });

  it("finds frames and trailers however the bytes are cut", () => {
    const stdout = "x".repeat(100);
    const stderr = "warning\n";
    const bytes = Buffer.concat([
      frame(1, stdout),
      frame(2, stderr),
      frame(1, `${nonce}0:0\n`),
      frame(2, `${nonce}0:0\n`),
    ]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }), (cuts) => {
        const c = feed(bytes, cuts);
        expect(c.stdout.kept.toString()).toBe(stdout);
        expect(c.stderr.kept.toString()).toBe(stderr);
        expect(c.complete).toBe(true);
        expect(c.stdout.exitCode).toBe(0);
      }),
    );
  });

  it("keeps at most the cap per stream but counts everything", () => {
    const c = feed(Buffer.concat([frame(1, "a".repeat(5000)), frame(1, `${nonce}0:0\n`)]), [4000], 1000);
    expect(c.stdout.kept.length).toBe(1000);
    expect(c.stdout.total).toBe(5000);
  });

  it("ignores what background processes write after the trailer", () => {
    const c = feed(Buffer.concat([frame(1, `done\n${nonce}0:0\nlate output\n`), frame(1, "later\n")]), []);
    expect(c.stdout.kept.toString()).toBe("done\n");
    expect(c.stdout.total).toBe(5);
  });

  it("flushes held-back bytes when the stream ends without a trailer (process killed)", () => {
    const c = feed(frame(1, "partial line"), []);
    expect(c.stdout.kept.toString()).toBe("");
    c.end();
    expect(c.stdout.kept.toString()).toBe("partial line");
    expect(c.complete).toBe(false);
    expect(c.stdout.exitCode).toBeUndefined();
  });
});
