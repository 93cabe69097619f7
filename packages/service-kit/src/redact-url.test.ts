import { describe, expect, it } from "vitest";
import { redactUrl, redactUrls } from "./redact-url.js";

describe("URLs in logs and errors", () => {
  it("lose a user and password, or a token, and keep the rest", () => {
    expect(redactUrl("nats://reins:hunter2@nats.internal:4222")).toBe("nats://[redacted]@nats.internal:4222");
    expect(redactUrl("nats://s3cr3t-token@10.0.0.1:4222")).toBe("nats://[redacted]@10.0.0.1:4222");
    expect(redactUrl("tls://u:p@ss@[::1]:4222")).toBe("tls://[redacted]@[::1]:4222");
    expect(redactUrl("user:pw@127.0.0.1:4222")).toBe("[redacted]@127.0.0.1:4222");
    expect(redactUrl("https://u:p@api.test/path?q=a@b#c@d")).toBe("https://[redacted]@api.test/path?q=a@b#c@d");
  });

  it("leave a URL without credentials as it is", () => {
    for (const url of ["nats://127.0.0.1:4222", "127.0.0.1:4222", "http://h/x@y", "http://h?x=@", "not a url"]) {
      expect(redactUrl(url)).toBe(url);
    }
  });

  it("redact every entry of a server list", () => {
    expect(redactUrls("nats://a:b@n1:4222, nats://n2:4222,tok@n3:4222")).toBe(
      "nats://[redacted]@n1:4222,nats://n2:4222,[redacted]@n3:4222",
    );
    expect(redactUrls(["nats://a:b@n1:4222", "n2:4222"])).toBe("nats://[redacted]@n1:4222,n2:4222");
  });
});
