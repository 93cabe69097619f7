import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { ExecutorService, ListToolsResponseSchema } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { createBearerInterceptor } from "./bearer-interceptor.js";

// What the server sees in `authorization` when the client sends `token`.
async function headerSeen(token: string | undefined): Promise<string | null> {
  let seen: string | null = "not called";
  const transport = createRouterTransport(
    ({ service }) =>
      service(ExecutorService, {
        listTools: (_, ctx) => {
          seen = ctx.requestHeader.get("authorization");
          return create(ListToolsResponseSchema);
        },
        execute: () => {
          throw new Error("not called");
        },
      }),
    { transport: { interceptors: [createBearerInterceptor(token)] } },
  );
  await createClient(ExecutorService, transport).listTools({});
  return seen;
}

describe("createBearerInterceptor", () => {
  it("sends the token as a bearer token on every call", async () => {
    expect(await headerSeen("s3cret-token-0123456789")).toBe("Bearer s3cret-token-0123456789");
  });

  it("sends no authorization header without a token", async () => {
    expect(await headerSeen(undefined)).toBeNull();
    expect(await headerSeen("")).toBeNull();
  });
});
