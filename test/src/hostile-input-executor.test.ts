import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecutorService } from "@reins/proto";
import { connectDocker, listLabelledContainers, listLabelledVolumes } from "@reins/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ExecutorDaemon, startExecutorDaemon } from "./support/executor-daemon.js";
import {
  bearer,
  brokenEnvelopes,
  connectJson,
  errorLines,
  garbageMessages,
  grpcFrame,
  healthOf,
  hostileIds,
  invalidIdMessage,
  rawGrpc,
  statusOf,
  wrongTypeJsons,
} from "./support/hostile.js";

// Hostile input against the built executor daemon on the shared Docker engine (tiny image).
// Caller mistakes are status codes; a tool's own failure (unknown tool, input that breaks
// the schema, a refused size) is an is_error result the model reads. After each test the
// daemon is SERVING, has logged no error, and no container of it is left.

let x: ExecutorDaemon | undefined;
const fixture = () => {
  if (!x) throw new Error("the executor daemon did not start");
  return x;
};
beforeAll(async () => {
  x = await startExecutorDaemon();
}, 60_000);
afterAll(async () => {
  await x?.[Symbol.asyncDispose]();
});
afterEach(async () => {
  const { daemon, label } = fixture();
  expect(await healthOf(daemon.url, ExecutorService.typeName)).toBe("SERVING");
  expect(errorLines(daemon.output)).toEqual([]);
  // Containers of finished calls are removed in the background; none may stay.
  const docker = connectDocker();
  const deadline = Date.now() + 15_000;
  while ((await listLabelledContainers(docker, label)).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await listLabelledContainers(docker, label)).toEqual([]);
});

const mb = (n: number) => "x".repeat(Math.round(n * 1024 * 1024));
const invalid = (pattern: RegExp) => ({ code: "INVALID_ARGUMENT", message: expect.stringMatching(pattern) });
const path = (method: string) => `/${ExecutorService.typeName}/${method}`;

describe("ExecutorService: authentication", () => {
  const headersCases: ReadonlyArray<readonly [string, Record<string, string>, RegExp]> = [
    ["no header", {}, /^missing bearer token/],
    ["an empty bearer", { authorization: "Bearer " }, /^missing bearer token/],
    ["another scheme", { authorization: "Basic dXNlcjpwYXNz" }, /^missing bearer token/],
    ["a wrong token", bearer("wrong"), /^invalid bearer token$/],
    ["a token with unicode", bearer("tökén"), /^invalid bearer token$/],
    ["a 32 KB token", bearer("t".repeat(32 * 1024)), /^invalid bearer token$/],
  ];

  it.each(headersCases)("refuses %s on every RPC with UNAUTHENTICATED", async (_label, headers, message) => {
    const { daemon, token } = fixture();
    const anonymous = createClient(ExecutorService, createGrpcTransport({ baseUrl: daemon.url }));
    const calls = {
      Execute: anonymous.execute({ name: "sh", inputJson: '{"command":"true"}' }, { headers }),
      ListTools: anonymous.listTools({}, { headers }),
      DeleteWorkspace: anonymous.deleteWorkspace({ sessionId: "s" }, { headers }),
    };
    for (const [rpc, call] of Object.entries(calls)) {
      const got = await statusOf(call);
      expect({ rpc, ...got }).toEqual({ rpc, code: "UNAUTHENTICATED", message: expect.stringMatching(message) });
      expect(got.message).not.toContain(token);
    }
  });

  it("never echoes or logs a presented token", async () => {
    const { daemon, token } = fixture();
    const presented = `presented-${"z".repeat(20)}`;
    const anonymous = createClient(ExecutorService, createGrpcTransport({ baseUrl: daemon.url }));
    const got = await statusOf(anonymous.listTools({}, { headers: bearer(presented) }));
    expect(got.message).not.toContain(presented);
    expect(daemon.output.join("\n")).not.toContain(presented);
    expect(daemon.output.join("\n")).not.toContain(token);
  });
});

describe("ExecutorService.Execute", () => {
  const execute = (req: Record<string, unknown>) => fixture().client.execute({ name: "sh", ...req });

  it("requires a tool name", async () => {
    expect(await statusOf(execute({ name: "", inputJson: '{"command":"true"}' }))).toEqual(
      invalid(/^name is required/),
    );
  });

  it.each(hostileIds)("refuses a session_id with %s with INVALID_ARGUMENT", async (_label, sessionId) => {
    const got = await statusOf(execute({ sessionId, inputJson: '{"command":"true"}' }));
    expect(got).toEqual(invalid(invalidIdMessage));
    expect(got.message.length).toBeLessThan(300);
  });

  it("bounds call_id", async () => {
    expect(await statusOf(execute({ callId: "c".repeat(257), inputJson: '{"command":"true"}' }))).toEqual(
      invalid(/^call_id is longer than 256 characters$/),
    );
  });

  it("refuses input_json that is not JSON, saying so", async () => {
    for (const inputJson of ["{oops", "{", '{"command": "a"', "\u0000", "undefined", mb(1)]) {
      expect(await statusOf(execute({ inputJson }))).toEqual(invalid(/^input_json is not valid JSON: /));
    }
  });

  it("answers input that breaks the tool's schema with an error result naming the problem", async () => {
    const cases: ReadonlyArray<readonly [string, RegExp]> = [
      ["", /command/],
      ["[]", /object/],
      ["42", /object/],
      ["null", /object/],
      ['"a string"', /object/],
      ['{"command": 5}', /command.*string|string.*command/s],
      ['{"command": ""}', /command/],
      ['{"command": null}', /command/],
      ['{"command": ["echo", "hi"]}', /command/],
      ['{"command": "true", "extra": 1}', /extra|additional/],
      [`{"command": "true", "deep": ${"[".repeat(5000)}${"]".repeat(5000)}}`, /deep|additional/],
    ];
    for (const [inputJson, names] of cases) {
      const res = await execute({ inputJson });
      expect({ inputJson: inputJson.slice(0, 40), isError: res.isError, exitCode: res.exitCode }).toEqual({
        inputJson: inputJson.slice(0, 40),
        isError: true,
        exitCode: -1,
      });
      expect(res.output).toMatch(/^input does not match the schema of tool sh:/);
      expect(res.output).toMatch(names);
    }
  });

  it("answers an unknown tool with an error result listing the tools, without echoing a huge name", async () => {
    for (const name of ["nope", "a.b", "*", ">", "a\u0000b", "séance", mb(1)]) {
      const res = await execute({ name, inputJson: "{}" });
      expect(res).toMatchObject({ isError: true, exitCode: -1 });
      expect(res.output).toMatch(/^unknown tool ".*"(\.\.\.)?; available tools: sh, ws$/s);
      expect(res.output.length).toBeLessThan(1_000);
    }
  });

  it("refuses input over the tool's limit as an error result, and a request over the daemon's as RESOURCE_EXHAUSTED", async () => {
    const res = await execute({ inputJson: JSON.stringify({ command: mb(1) }) });
    expect(res).toMatchObject({ isError: true, exitCode: -1 });
    expect(res.output).toMatch(/^input of 1(\.0)? MiB refused: tool sh accepts at most 64 KiB$/);
    expect(await statusOf(execute({ inputJson: JSON.stringify({ command: mb(5) }) }))).toEqual({
      code: "RESOURCE_EXHAUSTED",
      message: expect.stringMatching(/message size \d+ is larger than configured readMaxBytes \d+/),
    });
  });

  it("needs a session for a workspace tool", async () => {
    expect(await statusOf(execute({ name: "ws", inputJson: '{"command":"true"}' }))).toEqual(
      invalid(/^tool ws works in a session workspace: session_id is required$/),
    );
  });

  it("runs unicode and NUL bytes in tool input without a status error", async () => {
    const unicode = await execute({ inputJson: JSON.stringify({ command: "echo 'séance 日本 🚀'" }) });
    expect(unicode).toMatchObject({ isError: false, exitCode: 0, stdout: "séance 日本 🚀\n" });
    // A NUL cannot be part of an argv string: the tool fails, and says why; the call does not.
    const nul = await statusOf(execute({ inputJson: JSON.stringify({ command: "echo a\u0000b" }) }));
    expect(nul).toEqual({ code: "OK", message: "" });
  });
});

describe("ExecutorService.DeleteWorkspace", () => {
  it.each(hostileIds)("refuses a session_id with %s with INVALID_ARGUMENT", async (_label, sessionId) => {
    expect(await statusOf(fixture().client.deleteWorkspace({ sessionId }))).toEqual(invalid(invalidIdMessage));
  });

  it("requires a session_id, and says existed=false for one it never saw", async () => {
    expect(await statusOf(fixture().client.deleteWorkspace({ sessionId: "" }))).toEqual({
      code: "INVALID_ARGUMENT",
      message: "session_id is required",
    });
    expect(await fixture().client.deleteWorkspace({ sessionId: "never-used" })).toMatchObject({ existed: false });
    expect(await listLabelledVolumes(connectDocker(), fixture().label)).toEqual([]);
  });
});

describe("ExecutorService on the wire", () => {
  const methods = ExecutorService.methods.map((m) => m.name);

  // What every RPC answers to each undecodable message, with the token.
  const garbageOutcomes = async () => {
    const { daemon, token } = fixture();
    const outcomes: Array<{ method: string; label: string; code: string; message: string }> = [];
    for (const method of methods) {
      for (const [label, bytes] of garbageMessages) {
        // ListToolsRequest has no fields: a well-formed field is unknown, not garbage.
        if (method === "ListTools" && label === "invalid UTF-8 in a string field") continue;
        const { code, message } = await rawGrpc(daemon.url, path(method), grpcFrame(bytes), bearer(token));
        outcomes.push({ method, label, code, message });
      }
    }
    return outcomes;
  };

  it("every RPC answers bytes that do not decode with INVALID_ARGUMENT, naming the problem, and stays up", async () => {
    for (const outcome of await garbageOutcomes()) {
      expect(outcome).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/^parse binary: /) });
    }
  });

  it.each(methods)("%s: garbage without a token is refused as a client error", async (method) => {
    const { daemon } = fixture();
    const got = await rawGrpc(daemon.url, path(method), grpcFrame(Uint8Array.of(0x0f, 0x01)));
    // Connect decodes a unary request before interceptors run, so bytes that do not decode
    // are refused as such even without a token; either way nothing runs.
    expect(got.code).toMatch(/^(UNAUTHENTICATED|INVALID_ARGUMENT)$/);
  });

  it.each(methods)("%s: a broken gRPC envelope is refused, saying what is wrong", async (method) => {
    const { daemon, token } = fixture();
    for (const { label, body, message, want } of brokenEnvelopes) {
      const got = await rawGrpc(daemon.url, path(method), body, bearer(token));
      expect({ label, code: got.code, message: got.message }).toEqual({
        label,
        code: want,
        message: expect.stringMatching(message),
      });
    }
  });

  const bases: Record<string, Record<string, unknown>> = {
    Execute: { name: "sh", inputJson: '{"command":"true"}' },
    ListTools: {},
    DeleteWorkspace: { sessionId: "never-used" },
  };

  it.each(methods)("%s: Connect JSON of the wrong types gets INVALID_ARGUMENT", async (method) => {
    const { daemon, token } = fixture();
    const desc = ExecutorService.methods.find((m) => m.name === method)?.input;
    if (!desc) throw new Error(`no method ${method}`);
    for (const { json, names } of wrongTypeJsons(desc, bases[method])) {
      const got = await connectJson(daemon.url, path(method), json, { headers: bearer(token) });
      expect({ json, ...got }).toMatchObject({
        json,
        code: "INVALID_ARGUMENT",
        message: expect.stringMatching(names ?? /./),
      });
    }
  });
});
