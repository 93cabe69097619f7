import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AgentConfigSchema, EventSchema, RunState, SessionService, StopReason } from "@reins/proto";
import { bindService, startServer } from "@reins/service-kit";
import { createSessionServiceImpl, createSessionStore, type SessionStoreOptions } from "@reins/session-store";
import { startFakeAnthropic, startNatsServer } from "@reins/testkit";
import { uuidv7 } from "uuidv7";
import { describe, expect, it } from "vitest";
import { SessionLogFullError } from "../errors.js";
import { runAgentLoop } from "../loop/index.js";
import { createAnthropicAdapter } from "../model/index.js";
import { createExecutorPool } from "../tools/index.js";
import { sessionStatus, userMessage } from "./payloads.js";
import { createSessionLog, loadSession } from "./session-log.js";

/** A real session service with `limits`, and a gRPC client that counts refused appends. */
async function startSessions(limits: SessionStoreOptions) {
  const nats = await startNatsServer();
  const store = await createSessionStore({ servers: nats.url, requestTimeoutMs: 2_000, ...limits });
  const server = await startServer({ services: [bindService(SessionService, createSessionServiceImpl(store))] });
  const refused: Code[] = [];
  const count: Interceptor = (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      if (req.method.name === "AppendEvents") refused.push(ConnectError.from(err).code);
      throw err;
    }
  };
  const client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url, interceptors: [count] }));
  return {
    client,
    refused,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await store.close();
      await nats.stop();
    },
  };
}

const config = create(AgentConfigSchema, { model: "claude-test", systemPrompt: "Be brief." });

describe("session log under the session service's limits", () => {
  it("waits out an events-per-second refusal as the service says, and writes each event once", async () => {
    await using env = await startSessions({ maxEventsPerSecond: 4, eventsBurst: 100 });
    await env.client.createSession({ sessionId: "rate", config });
    const log = createSessionLog({ client: env.client, fold: await loadSession(env.client, "rate") });
    await log.append(...Array.from({ length: 100 }, (_, i) => userMessage(`m${i}`)));
    const [written] = await log.append(userMessage("after the burst"));
    expect(written?.seq).toBe(102n);
    expect(env.refused.length).toBeGreaterThan(0);
    expect(env.refused.every((code) => code === Code.ResourceExhausted)).toBe(true);
    const page = await env.client.getEvents({ sessionId: "rate", afterSeq: 100n });
    expect(page.events.map((e) => e.seq)).toEqual([101n, 102n]);
  });

  it("ends the run on a full log: terminated with the reason recorded, the model asked once", async () => {
    await using env = await startSessions({ maxLogBytes: 4096 });
    await using fake = await startFakeAnthropic({
      script: () => ({ content: [{ type: "text", text: "y".repeat(5000) }] }),
    });
    const deps = {
      sessions: env.client,
      model: createAnthropicAdapter({ apiKey: "test-key", baseURL: fake.url, minBackoffMs: 1, maxBackoffMs: 5 }),
      executors: createExecutorPool({ defaultAddress: "http://127.0.0.1:1" }),
    };
    await env.client.createSession({ sessionId: "full", config });
    await env.client.appendEvents({
      sessionId: "full",
      expectedLastSeq: 1n,
      events: [userMessage("write a lot"), sessionStatus(RunState.RUNNING)].map((payload) =>
        create(EventSchema, { id: uuidv7(), payload }),
      ),
    });

    const outcome = await runAgentLoop(deps, "full");
    expect(outcome).toEqual({ kind: "terminated", stopReason: StopReason.ERROR });
    expect(env.refused).toEqual([Code.ResourceExhausted]);
    expect(fake.requests.length).toBe(1);
    const events = (await env.client.getEvents({ sessionId: "full" })).events;
    expect(events.map((e) => e.payload.case)).toEqual([
      "sessionCreated",
      "userMessage",
      "sessionStatus",
      "sessionError",
      "sessionStatus",
    ]);
    const [error, status] = events.slice(-2).map((e) => e.payload);
    expect(error?.case === "sessionError" && error.value.kind).toBe("log_full");
    expect(status?.case === "sessionStatus" && status.value).toMatchObject({
      state: RunState.TERMINATED,
      stopReason: StopReason.ERROR,
    });
    expect(status?.case === "sessionStatus" && status.value.detail).toContain("over the limit of 4096 bytes");

    // Nothing left to do: a second run neither calls the model nor writes.
    expect(await runAgentLoop(deps, "full")).toEqual({ kind: "terminated", stopReason: StopReason.ERROR });
    expect(fake.requests.length).toBe(1);
  });

  it("writes nothing more once its own append found the log full, not even what would fit", async () => {
    await using env = await startSessions({ maxLogBytes: 4096 });
    await env.client.createSession({ sessionId: "stop", config });
    const log = createSessionLog({ client: env.client, fold: await loadSession(env.client, "stop") });
    await expect(log.append(userMessage("w".repeat(5000)))).rejects.toBeInstanceOf(SessionLogFullError);
    const after = (await env.client.getSession({ sessionId: "stop" })).session;
    expect(after).toMatchObject({ lastSeq: 3n, state: RunState.TERMINATED, stopReason: StopReason.ERROR });
    await expect(log.append(userMessage("small"))).rejects.toBeInstanceOf(SessionLogFullError);
    expect(env.refused).toEqual([Code.ResourceExhausted]);
    expect((await env.client.getSession({ sessionId: "stop" })).session?.lastSeq).toBe(3n);
  });

  it("hands a client's refused events back as they came, without ending the session", async () => {
    await using env = await startSessions({ maxLogBytes: 4096 });
    await env.client.createSession({ sessionId: "client", config });
    const log = createSessionLog({ client: env.client, fold: await loadSession(env.client, "client") });
    const big = create(EventSchema, { id: uuidv7(), payload: userMessage("z".repeat(5000)) });
    const err = await log.appendEvents([big]).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err?.rawMessage).toContain("over the limit of 4096 bytes per session");
    expect(env.refused).toEqual([Code.ResourceExhausted]);
    expect((await env.client.getSession({ sessionId: "client" })).session?.lastSeq).toBe(1n);
    // A message that fits still goes in.
    const [ok] = await log.appendEvents([create(EventSchema, { id: uuidv7(), payload: userMessage("short") })]);
    expect(ok?.seq).toBe(2n);
  });
});
