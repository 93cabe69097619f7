import { create } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { ToolSchema } from "@reins/proto";
import { describe, expect, it } from "vitest";
import type { ExecutorPool, ToolCall } from "../executor-pool.js";
import { lookUpTools } from "../tool-specs.js";
import type { HostTools } from "./host-tools.js";
import { withHostTools } from "./router.js";

// Routing is pure logic: stand-ins record which side a call went to.
function setUp() {
  const executed: string[] = [];
  const outcome = (output: string) => ({ output, isError: false, exitCode: 0, durationMs: 0, truncated: false });
  const executors: ExecutorPool = {
    resolve: (address) => address || "http://default",
    execute: async (_address, call: ToolCall) => {
      executed.push(`executor:${call.name}`);
      return outcome("from the executor");
    },
    listTools: async () => [
      create(ToolSchema, { name: "sh", description: "executor sh" }),
      create(ToolSchema, { name: "weather", description: "executor weather" }),
    ],
  };
  // "weather" for every tenant, "crm" for acme only.
  const hostCatalog = (tenant: string) => [
    create(ToolSchema, { name: "weather", description: "host weather", idempotent: true }),
    ...(tenant === "acme" ? [create(ToolSchema, { name: "crm", description: "host crm" })] : []),
  ];
  const host: HostTools = {
    namesFor: (tenant) => new Set(hostCatalog(tenant).map((t) => t.name)),
    catalog: hostCatalog,
    execute: async (call) => {
      executed.push(`host:${call.name}`);
      return outcome("from the harness");
    },
  };
  const shadowed: string[] = [];
  const pool = withHostTools(executors, host, { onShadowed: (address, name) => shadowed.push(`${address} ${name}`) });
  return { pool, executed, shadowed };
}

const call = (name: string, tenant = ""): ToolCall => ({
  sessionId: "s",
  toolUseId: "t",
  name,
  inputJson: "{}",
  tenant,
});

describe("host tool routing", () => {
  it("offers host tools with the catalog; a host tool shadows an executor tool of the same name", async () => {
    const { pool, shadowed } = setUp();
    const tools = await pool.listTools("http://e");
    expect(tools.map((t) => [t.name, t.description])).toEqual([
      ["weather", "host weather"],
      ["sh", "executor sh"],
    ]);
    await pool.listTools("http://e");
    expect(shadowed).toEqual(["http://e weather"]);
  });

  it("routes calls by name", async () => {
    const { pool, executed } = setUp();
    expect((await pool.execute("http://e", call("weather"))).output).toBe("from the harness");
    expect((await pool.execute("http://e", call("sh"))).output).toBe("from the executor");
    expect(executed).toEqual(["host:weather", "executor:sh"]);
  });

  it("offers and routes a tenant-limited host tool for its tenants only; to others it is not there", async () => {
    const { pool, executed } = setUp();
    expect((await pool.listTools("http://e", { tenant: "acme" })).map((t) => t.name)).toEqual(["weather", "crm", "sh"]);
    for (const tenant of [undefined, "", "globex"]) {
      expect((await pool.listTools("http://e", { tenant })).map((t) => t.name)).toEqual(["weather", "sh"]);
    }
    expect((await pool.execute("http://e", call("crm", "acme"))).output).toBe("from the harness");
    // Another tenant's call of that name goes where a harness without the tool would send it.
    expect((await pool.execute("http://e", call("crm", "globex"))).output).toBe("from the executor");
    expect((await pool.execute("http://e", call("crm"))).output).toBe("from the executor");
    expect(executed).toEqual(["host:crm", "executor:crm", "executor:crm"]);
  });

  it("refuses another tenant's host tool by name exactly like a tool nobody offers", async () => {
    const { pool } = setUp();
    expect((await lookUpTools(["crm"], "http://e", "acme", pool)).map((d) => d.name)).toEqual(["crm"]);
    const refusal = (name: string) =>
      lookUpTools([name], "http://e", "globex", pool).then(
        () => "accepted",
        (err: ConnectError) => `${Code[err.code]} ${err.rawMessage.replace(name, "NAME")}`,
      );
    const unknown = await refusal("nosuch");
    expect(unknown).toBe('InvalidArgument unknown tool "NAME": the executor at http://e offers weather, sh');
    expect(await refusal("crm")).toBe(unknown);
  });
});
