import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { hostFailureOf } from "./executor-pool.js";

const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:7003"), { code: "ECONNREFUSED" });

describe("hostFailureOf", () => {
  it("reads a refused connection and an up-front shutdown refusal as calls that never started", () => {
    expect(
      hostFailureOf(new ConnectError("connect ECONNREFUSED", Code.Unavailable, undefined, undefined, refused)),
    ).toMatchObject({ started: false });
    expect(
      hostFailureOf(new ConnectError("executor is shutting down; retry on another executor", Code.Unavailable)),
    ).toMatchObject({ started: false });
  });

  it("reads a stream the executor broke as a call whose outcome is unknown", () => {
    expect(hostFailureOf(new ConnectError("executor is shutting down", Code.Unavailable))).toMatchObject({
      started: true,
    });
    expect(hostFailureOf(new ConnectError("read ECONNRESET", Code.Internal))).toMatchObject({ started: true });
    expect(hostFailureOf(new ConnectError("the server went away", Code.Canceled))).toMatchObject({ started: true });
  });

  it("leaves tool and request failures alone", () => {
    expect(hostFailureOf(new ConnectError("unknown tool", Code.InvalidArgument))).toBeUndefined();
    expect(hostFailureOf(new ConnectError("deadline", Code.DeadlineExceeded))).toBeUndefined();
    expect(hostFailureOf(new ConnectError("bad token", Code.Unauthenticated))).toBeUndefined();
    expect(hostFailureOf(new ConnectError("workspace disk full", Code.Internal))).toBeUndefined();
  });
});
