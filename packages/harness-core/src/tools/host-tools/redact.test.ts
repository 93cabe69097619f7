import { describe, expect, it } from "vitest";
import { createScrubber } from "./redact.js";

describe("scrubbing a secret", () => {
  const scrub = createScrubber(['Bearer s3cr3t/"x"', 's3cr3t/"x"']);

  it("replaces the header value, the bare secret, and their JSON and URL forms", () => {
    expect(scrub('got Bearer s3cr3t/"x" then s3cr3t/"x"')).toBe("got [redacted] then [redacted]");
    expect(scrub(JSON.stringify({ a: 's3cr3t/"x"' }))).toBe('{"a":"[redacted]"}');
    expect(scrub(`?t=${encodeURIComponent('s3cr3t/"x"')}`)).toBe("?t=[redacted]");
    expect(scrub("nothing here")).toBe("nothing here");
  });

  it("drops the start of a secret that a cut left at the end, only when told the text was cut", () => {
    expect(scrub("data s3cr", true)).toBe("data ");
    expect(scrub("data Bearer s3", true)).toBe("data ");
    expect(scrub("data s3cr")).toBe("data s3cr");
    expect(scrub("data", true)).toBe("data");
  });

  it("does nothing without a secret", () => {
    expect(createScrubber([])("text", true)).toBe("text");
    expect(createScrubber([""])("text")).toBe("text");
  });
});
