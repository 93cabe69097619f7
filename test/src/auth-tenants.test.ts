import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type AgentConfigSchema,
  EventType,
  ExecutorService,
  grpcHealthV1,
  HarnessService,
  RunState,
  SessionService,
  ToolConfirmationResult,
} from "@reins/proto";
import { startDaemon } from "@reins/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthStack, crmKey, startAuthStack, tokens } from "./support/auth-stack.js";

// Roles and tenants through the real daemons: every call crosses a socket and
// the daemons' own auth interceptors and tenant checks.

let stack: AuthStack;
beforeAll(async () => {
  stack = await startAuthStack();
}, 120_000);
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

const config = { model: "claude-test" };

/** The code and message a call fails with ("OK" when it succeeds). */
async function outcome(call: Promise<unknown> | (() => Promise<unknown>)): Promise<{ code: string; message: string }> {
  try {
    await (typeof call === "function" ? call() : call);
    return { code: "OK", message: "" };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: Code[e.code], message: e.rawMessage };
  }
}

/** Drains a server stream; its first failure is the outcome. */
const drain = (stream: AsyncIterable<unknown>) => async () => {
  for await (const _ of stream) {
    // only the outcome matters
  }
};

const sessionsAs = (token?: string) => stack.client(SessionService, stack.session.url, token);
const harnessAs = (token?: string) => stack.client(HarnessService, stack.harness.url, token);

/** Runs a session for a client to idle through the harness; returns its id. */
async function runFor(token: string, sessionId: string): Promise<string> {
  for await (const _ of harnessAs(token).runSession({ sessionId, config, message: "hello" })) {
    // until the run is idle
  }
  return sessionId;
}

describe("authentication", () => {
  it("refuses calls without a token or with a wrong one on every service, and leaves health public", async () => {
    const unauthenticated = { code: "Unauthenticated", message: expect.any(String) };
    for (const token of [undefined, "not-a-known-token-at-all"]) {
      expect(await outcome(sessionsAs(token).listSessions({}))).toEqual(unauthenticated);
      expect(await outcome(harnessAs(token).wake({ sessionId: "x" }))).toEqual(unauthenticated);
      expect(await outcome(stack.client(ExecutorService, stack.executor.url, token).listTools({}))).toEqual(
        unauthenticated,
      );
    }
    for (const daemon of stack.daemons) {
      const health = stack.client(grpcHealthV1.Health, daemon.url);
      expect((await health.check({ service: "" })).status).toBe(grpcHealthV1.HealthCheckResponse_ServingStatus.SERVING);
    }
  });

  it("lets only harness tokens call the executor", async () => {
    const executorAs = (token: string) => stack.client(ExecutorService, stack.executor.url, token);
    expect((await executorAs(tokens.harness).listTools({})).tools.map((t) => t.name)).toEqual(["sh"]);
    for (const token of [tokens.clientA, tokens.operator]) {
      expect(await outcome(executorAs(token).listTools({}))).toMatchObject({ code: "PermissionDenied" });
      expect(
        await outcome(executorAs(token).execute({ name: "sh", inputJson: '{"command":"true"}', sessionId: "x" })),
      ).toMatchObject({ code: "PermissionDenied" });
    }
  });

  it("applies each service's role table", async () => {
    const id = await runFor(tokens.clientA, "auth-roles");
    const append = (token: string) =>
      sessionsAs(token).appendEvents({
        sessionId: id,
        expectedLastSeq: 1n,
        events: [{ id: `e-${token.slice(0, 8)}`, payload: { case: "userMessage", value: { text: "x" } } }],
      });
    // The harness writes the log; a client may not (it could forge model answers or tool results).
    expect(await outcome(append(tokens.clientA))).toMatchObject({
      code: "PermissionDenied",
      message: 'role "client" may not call reins.session.v1.SessionService/AppendEvents',
    });
    // Past the role check, the fence answers: these roles may append.
    for (const token of [tokens.harness, tokens.operator]) {
      expect(await outcome(append(token))).toMatchObject({ code: "Aborted" });
    }
    for (const token of [tokens.clientA, tokens.harness, tokens.operator]) {
      const s = sessionsAs(token);
      expect(await outcome(s.getSession({ sessionId: id }))).toEqual({ code: "OK", message: "" });
      expect(await outcome(s.getEvents({ sessionId: id }))).toEqual({ code: "OK", message: "" });
      expect(await outcome(s.listSessions({}))).toEqual({ code: "OK", message: "" });
    }
    // A harness token is for the session service and executors, not for calling harnesses.
    expect(await outcome(harnessAs(tokens.harness).wake({ sessionId: id }))).toMatchObject({
      code: "PermissionDenied",
      message: 'role "harness" may not call reins.harness.v1.HarnessService/Wake',
    });
    expect(await outcome(harnessAs(tokens.operator).wake({ sessionId: id }))).toEqual({ code: "OK", message: "" });
  });
});

describe("tenants", () => {
  it("gives a session the tenant of the client that started it", async () => {
    const id = await runFor(tokens.clientA, "tenant-owned");
    const { session } = await sessionsAs(tokens.operator).getSession({ sessionId: id });
    expect(session).toMatchObject({ tenant: "tenant-a", state: RunState.IDLE });
    const created = await sessionsAs(tokens.clientB).createSession({ sessionId: "tenant-b-direct", config });
    expect(created.session?.tenant).toBe("tenant-b");
    expect(await outcome(sessionsAs(tokens.clientB).createSession({ config, tenant: "tenant-a" }))).toMatchObject({
      code: "PermissionDenied",
    });
  });

  it("answers another tenant's session on every RPC exactly as a session that does not exist", async () => {
    const id = await runFor(tokens.clientA, "tenant-private");
    const before = (await sessionsAs(tokens.operator).getEvents({ sessionId: id })).events.length;
    const s = sessionsAs(tokens.clientB);
    const h = harnessAs(tokens.clientB);
    // The harness acting for tenant B: what SendMessage and the other harness RPCs do underneath.
    const harnessForB = { headers: { "reins-tenant": "tenant-b" } };
    const hs = sessionsAs(tokens.harness);
    const calls: Record<string, (sessionId: string) => Promise<unknown> | (() => Promise<unknown>)> = {
      GetSession: (sessionId) => s.getSession({ sessionId }),
      GetEvents: (sessionId) => s.getEvents({ sessionId }),
      "GetEvents after seq 1": (sessionId) => s.getEvents({ sessionId, afterSeq: 1n }),
      GetLatestEvent: (sessionId) => s.getLatestEvent({ sessionId, type: EventType.AGENT_CONTEXT_COMPACTED }),
      StreamEvents: (sessionId) => drain(s.streamEvents({ sessionId })),
      DeleteSession: (sessionId) => s.deleteSession({ sessionId }),
      AppendEvents: (sessionId) =>
        hs.appendEvents(
          {
            sessionId,
            expectedLastSeq: BigInt(before),
            events: [{ id: "forged", payload: { case: "userMessage", value: { text: "x" } } }],
          },
          harnessForB,
        ),
      "harness Wake": (sessionId) => h.wake({ sessionId }),
      "harness SendMessage": (sessionId) => h.sendMessage({ sessionId, message: "hi" }),
      "harness Interrupt": (sessionId) => h.interrupt({ sessionId, reason: "stop" }),
      "harness ConfirmToolUse": (sessionId) =>
        h.confirmToolUse({ sessionId, toolUseId: "toolu_1", result: ToolConfirmationResult.ALLOW }),
      "harness SendCustomToolResult": (sessionId) =>
        h.sendCustomToolResult({ sessionId, toolUseId: "toolu_1", output: "forged" }),
      "harness StreamText": (sessionId) => drain(h.streamText({ sessionId })),
    };
    for (const [name, call] of Object.entries(calls)) {
      const missing = await outcome(call("tenant-no-such-session"));
      const foreign = await outcome(call(id));
      expect({ name, ...foreign }).toEqual({
        name,
        code: "NotFound",
        message: missing.message.replace("tenant-no-such-session", id),
      });
      expect(missing.code).toBe("NotFound");
    }
    // RunSession creates: an id another tenant holds is only said to be taken.
    expect(await outcome(drain(h.runSession({ sessionId: id, config, message: "hi" })))).toEqual({
      code: "AlreadyExists",
      message: `session "${id}" already exists`,
    });
    // Nothing of tenant B reached tenant A's session.
    expect((await sessionsAs(tokens.clientA).getEvents({ sessionId: id })).events).toHaveLength(before);
    expect((await sessionsAs(tokens.clientA).getSession({ sessionId: id })).session?.state).toBe(RunState.IDLE);
  });

  it("lists only the caller's tenant's sessions, and every session for operators", async () => {
    const a = await runFor(tokens.clientA, "tenant-list-a");
    const b = await runFor(tokens.clientB, "tenant-list-b");
    const ids = async (token: string) =>
      (await sessionsAs(token).listSessions({ pageSize: 1000 })).sessions.map((x) => x.sessionId);
    const ofA = await ids(tokens.clientA);
    const ofB = await ids(tokens.clientB);
    expect(ofA).toContain(a);
    expect(ofA).not.toContain(b);
    expect(ofB).toContain(b);
    expect(ofB).not.toContain(a);
    expect(await ids(tokens.operator)).toEqual(expect.arrayContaining([a, b]));
    expect(await ids(tokens.harness)).toEqual(expect.arrayContaining([a, b]));
  });

  it("lets a client continue, wake and delete its own sessions, and operators any", async () => {
    const id = await runFor(tokens.clientA, "tenant-own");
    const h = harnessAs(tokens.clientA);
    expect((await h.wake({ sessionId: id })).lastSeq).toBeGreaterThan(0n);
    expect(await outcome(h.interrupt({ sessionId: id, reason: "r" }))).toMatchObject({ code: "FailedPrecondition" });
    await sessionsAs(tokens.clientA).deleteSession({ sessionId: id });
    const other = await runFor(tokens.clientB, "tenant-op-delete");
    await sessionsAs(tokens.operator).deleteSession({ sessionId: other });
    expect(await outcome(sessionsAs(tokens.operator).getSession({ sessionId: other }))).toMatchObject({
      code: "NotFound",
    });
  });

  it("offers a host tool limited to tenant A to tenant A's sessions only; tenant B can neither name nor run it", async () => {
    const resultOf = async (
      token: string,
      sessionId: string,
      sessionConfig: MessageInitShape<typeof AgentConfigSchema>,
    ) => {
      for await (const _ of harnessAs(token).runSession({ sessionId, config: sessionConfig, message: "use crm" })) {
        // until the run is idle
      }
      const { events } = await sessionsAs(tokens.operator).getEvents({ sessionId });
      const result = events.find((e) => e.payload.case === "agentToolResult")?.payload;
      return result?.case === "agentToolResult" ? result.value : undefined;
    };
    expect(await resultOf(tokens.clientA, "host-tool-a", { ...config, tools: ["crm"] })).toMatchObject({
      isError: false,
      output: "record of /customers/42",
    });
    expect(stack.crm.seen).toEqual([{ method: "GET", url: "/customers/42", apiKey: crmKey }]);

    // Named in config.tools, it is an unknown tool, word for word like one nobody offers.
    const refusal = async (tool: string) => {
      const got = await outcome(
        harnessAs(tokens.clientB).startSession({ config: { ...config, tools: [tool] }, message: "hi" }),
      );
      return { ...got, message: got.message.replace(tool, "TOOL") };
    };
    const unknown = await refusal("no_such_tool");
    expect(unknown).toMatchObject({ code: "InvalidArgument", message: expect.stringContaining('unknown tool "TOOL"') });
    expect(await refusal("crm")).toEqual(unknown);
    // Declared by the client itself, a call of it goes where it would in a harness without the tool: the executor.
    const declared = [{ name: "crm", description: "mine", inputSchemaJson: '{"type":"object"}' }];
    const result = await resultOf(tokens.clientB, "host-tool-b", { ...config, toolDefinitions: declared });
    expect(result).toMatchObject({ isError: true });
    expect(result?.output).not.toContain("record of");
    expect(stack.crm.seen).toHaveLength(1);
  });

  // Last: every token above has been presented to every daemon.
  it("never writes a token to any daemon's log", () => {
    const output = stack.daemons.flatMap((d) => d.output).join("\n");
    expect(output).toContain('"listening"');
    for (const token of [...Object.values(tokens), crmKey]) expect(output).not.toContain(token);
  });
});

describe("token configuration", () => {
  it("refuses to start on a bad grants list, naming the variable and entry but never the token", async () => {
    const secret = "secret-token-that-must-not-leak-0001";
    const cases = [
      {
        app: "session",
        env: { REINS_SESSION_TOKENS: `[{token: ${secret}, role: admin}]` },
        says: /REINS_SESSION_TOKENS: entry 0 needs a role/,
      },
      {
        app: "harness",
        env: { REINS_HARNESS_TOKENS: `- {token: ${secret}, role: client}\n- {token: ${secret}, role: operator}` },
        says: /REINS_HARNESS_TOKENS: entry 1: the same token is listed twice/,
      },
      {
        app: "executor",
        env: { REINS_EXECUTOR_TOKENS: `[{token: ${secret}, role: client}]` },
        says: /harness token, is required/,
      },
    ];
    for (const { app, env, says } of cases) {
      const failure = await startDaemon({
        app,
        env: { ...env, [`REINS_${app.toUpperCase()}_LISTEN`]: "127.0.0.1:0" },
      }).then(
        async (daemon) => {
          await daemon.kill();
          return "started";
        },
        (err: unknown) => (err as Error).message,
      );
      expect(failure).toMatch(says);
      expect(failure).not.toContain(secret);
    }
  });
});
