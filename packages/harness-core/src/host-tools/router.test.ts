import { create } from "@bufbuild/protobuf";
import { ToolSchema } from "@reins/proto";
import { describe, expect, it } from "vitest";
import type { ExecutorPool, ToolCall } from "../executor-pool.js";
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
  const host: HostTools = {
    names: new Set(["weather"]),
    catalog: () => [create(ToolSchema, { name: "weather", description: "host weather", idempotent: true })],
    execute: async (call) => {
      executed.push(`host:${call.name}`);
      return outcome("from the harness");
    },
  };
  const shadowed: string[] = [];
  const pool = withHostTools(executors, host, { onShadowed: (address, name) => shadowed.push(`${address} ${name}`) });
  return { pool, executed, shadowed };
}

const call = (name: string): ToolCall => ({ sessionId: "s", toolUseId: "t", name, inputJson: "{}" });

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
});
