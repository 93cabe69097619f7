import { describe, expect, it } from "vitest";
import { listeningMetricsUrl, listeningUrl } from "./listening.js";

describe("listeningUrl", () => {
  it("reads the url of a daemon's listening line", () => {
    const line = JSON.stringify({ level: 30, name: "reins-session", url: "http://127.0.0.1:40123", msg: "listening" });
    expect(listeningUrl(line)).toBe("http://127.0.0.1:40123");
  });

  it("ignores every other line", () => {
    expect(listeningUrl(JSON.stringify({ msg: "connecting to NATS", url: "nats://127.0.0.1:4222" }))).toBeUndefined();
    expect(listeningUrl(JSON.stringify({ msg: "listening" }))).toBeUndefined();
    expect(listeningUrl('not json but "listening"')).toBeUndefined();
    expect(listeningUrl("[INF] Server is ready")).toBeUndefined();
  });
});

describe("listeningMetricsUrl", () => {
  it("reads where the daemon serves its metrics, when it does", () => {
    const line = (extra: object) => JSON.stringify({ url: "http://127.0.0.1:7001", ...extra, msg: "listening" });
    expect(listeningMetricsUrl(line({ metrics: "http://127.0.0.1:9401/metrics" }))).toBe(
      "http://127.0.0.1:9401/metrics",
    );
    expect(listeningMetricsUrl(line({}))).toBeUndefined();
    expect(listeningMetricsUrl(JSON.stringify({ msg: "ready", metrics: "http://x/metrics" }))).toBeUndefined();
  });
});
