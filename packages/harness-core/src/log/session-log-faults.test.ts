import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { AgentConfigSchema, SessionService } from "@reins/proto";
import { bindService, createGrpcClientTransport, startServer } from "@reins/service-kit";
import { createSessionServiceImpl, createSessionStore } from "@reins/session-store";
import { startNatsServer, startResetProxy } from "@reins/testkit";
import { uuidv7 } from "uuidv7";
import { describe, expect, it } from "vitest";
import { OwnershipLostError } from "../errors.js";
import { userMessage } from "./payloads.js";
import { createSessionLog, loadSession, type SessionClient } from "./session-log.js";
import { withStreamedAppends } from "./streamed-appends.js";

// The connection to the session service reset (TCP RST) under an append the
// service has read: connect-node reports ABORTED, the code of a fence. Only the
// service's fence (its ErrorInfo) means another writer; the reset is retried.

const config = create(AgentConfigSchema, { model: "claude-test" });
// Big enough for the proxy to tell the append from HTTP/2 control frames.
const text = (label: string) => `${label} ${"x".repeat(400)}`;

async function startEnv() {
  const nats = await startNatsServer();
  const store = await createSessionStore({ servers: nats.url, requestTimeoutMs: 2_000 });
  const server = await startServer({ services: [bindService(SessionService, createSessionServiceImpl(store))] });
  const proxy = await startResetProxy(server.url);
  const direct = createClient(SessionService, createGrpcClientTransport({ baseUrl: server.url }));
  const proxied = createClient(SessionService, createGrpcClientTransport({ baseUrl: proxy.url }));
  const streamed = withStreamedAppends(createClient(SessionService, createGrpcClientTransport({ baseUrl: proxy.url })));
  return {
    proxy,
    direct,
    clients: { unary: proxied, streamed } as Record<string, SessionClient>,
    async [Symbol.asyncDispose]() {
      await streamed.close();
      await proxy.close();
      await server[Symbol.asyncDispose]();
      await store.close();
      await nats.stop();
    },
  };
}

describe.each(["unary", "streamed"])("session log, %s appends, connection reset under an append", (kind) => {
  it("retries with the same event ids on a new connection: written once, not fenced", async () => {
    await using env = await startEnv();
    const client = env.clients[kind] as SessionClient;
    const sessionId = `reset-${uuidv7()}`;
    await env.direct.createSession({ sessionId, config });
    const log = createSessionLog({ client, fold: await loadSession(client, sessionId) });
    await log.append(userMessage(text("before")));

    const cut = env.proxy.resetUnderNextRequest();
    const [written] = await log.append(userMessage(text("under the reset")));
    await cut;
    expect(env.proxy.resets).toBe(1);
    expect(written?.seq).toBe(3n);
    const [after] = await log.append(userMessage(text("after")));
    expect(after?.seq).toBe(4n);
    const { events } = await env.direct.getEvents({ sessionId });
    expect(
      events.map((e) => (e.payload.case === "userMessage" ? e.payload.value.text.split(" ")[0] : e.payload.case)),
    ).toEqual(["sessionCreated", "before", "under", "after"]);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });

  it("still takes the service's own ABORTED for a fence", async () => {
    await using env = await startEnv();
    const client = env.clients[kind] as SessionClient;
    const sessionId = `fence-${uuidv7()}`;
    await env.direct.createSession({ sessionId, config });
    const zombie = createSessionLog({ client, fold: await loadSession(client, sessionId) });
    const other = createSessionLog({ client: env.direct, fold: await loadSession(env.direct, sessionId) });
    await other.append(userMessage("the other writer"));
    await expect(zombie.append(userMessage("late"))).rejects.toBeInstanceOf(OwnershipLostError);
  });
});
