import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ExecuteResponseSchema, ExecutorService, ListToolsResponseSchema } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { createAuthInterceptor, createTokenVerifier, tenantScope } from "./auth.js";
import { createBearerInterceptor } from "./bearer-interceptor.js";

const clientToken = "client-0123456789abcdef";
const harnessToken = "harness-0123456789abcdef";
const grants = [
  { token: clientToken, role: "client", tenant: "acme" },
  { token: harnessToken, role: "harness", tenant: "" },
];

// A policy that lists ListTools only: Execute is closed to every role.
const client = (token: string) =>
  createClient(
    ExecutorService,
    createRouterTransport(
      ({ service }) =>
        service(ExecutorService, {
          listTools: () => create(ListToolsResponseSchema),
          execute: () => create(ExecuteResponseSchema),
        }),
      {
        router: {
          interceptors: [
            createBearerInterceptor(token),
            createAuthInterceptor({ verify: createTokenVerifier(grants), methods: { ListTools: ["client"] } }),
          ],
        },
      },
    ),
  );

const code = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e: unknown) => Code[ConnectError.from(e).code],
  );

describe("createAuthInterceptor with a method policy", () => {
  it("lets a role call only the methods listed for it, and closes unlisted methods to everyone", async () => {
    expect(await code(client(clientToken).listTools({}))).toBe("OK");
    expect(await code(client(harnessToken).listTools({}))).toBe("PermissionDenied");
    expect(await code(client(clientToken).execute({}))).toBe("PermissionDenied");
    expect(await code(client(harnessToken).execute({}))).toBe("PermissionDenied");
    expect(await code(client("unknown-0123456789abcdef").listTools({}))).toBe("Unauthenticated");
  });
});

describe("tenantScope", () => {
  const headers = (tenant?: string) => new Headers(tenant === undefined ? {} : { "reins-tenant": tenant });
  it("confines a client to its tenant and lets callers that span tenants narrow themselves", () => {
    expect(tenantScope({ role: "client", tenant: "acme" }, headers())).toBe("acme");
    expect(tenantScope({ role: "client", tenant: "acme" }, headers("acme"))).toBe("acme");
    expect(() => tenantScope({ role: "client", tenant: "acme" }, headers("other"))).toThrow(
      expect.objectContaining({ code: Code.PermissionDenied }),
    );
    expect(tenantScope({ role: "harness", tenant: "" }, headers())).toBeUndefined();
    expect(tenantScope({ role: "harness", tenant: "" }, headers("acme"))).toBe("acme");
    expect(tenantScope({ role: "operator", tenant: "" }, headers(""))).toBe("");
    expect(tenantScope({ role: "", tenant: "" }, headers())).toBeUndefined();
  });
});
