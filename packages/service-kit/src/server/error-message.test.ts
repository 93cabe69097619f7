import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecutorService } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { maxErrorMessageLength } from "./error-metadata.js";
import { bindService, startServer } from "./server.js";

describe("error messages", () => {
  it("cuts an overlong error message, so the status still fits the trailers", async () => {
    const huge = "x".repeat(1024 * 1024);
    await using server = await startServer({
      services: [
        bindService(ExecutorService, {
          listTools: () => {
            throw new ConnectError(`unknown tool "${huge}"`, Code.InvalidArgument);
          },
        }),
      ],
    });
    const client = createClient(ExecutorService, createGrpcTransport({ baseUrl: server.url }));
    const err = await client.listTools({}).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    const sent = `unknown tool "${huge}"`;
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toBe(
      `${sent.slice(0, maxErrorMessageLength)}... (${sent.length - maxErrorMessageLength} more characters)`,
    );
    // The connection survived: the next call works.
    await expect(client.listTools({}, { timeoutMs: 10_000 })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  it("replaces a lone surrogate in a message, which gRPC's percent-encoding cannot send", async () => {
    await using server = await startServer({
      services: [
        bindService(ExecutorService, {
          listTools: () => {
            // What V8 says about JSON cut in the middle of an emoji.
            throw new ConnectError('input_json is not valid JSON: "\uD83D" is not valid', Code.InvalidArgument);
          },
        }),
      ],
    });
    const client = createClient(ExecutorService, createGrpcTransport({ baseUrl: server.url }));
    await expect(client.listTools({}, { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: 'input_json is not valid JSON: "\uFFFD" is not valid',
    });
  });
});
