import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { EventSchema, SessionService } from "@reins/proto";
import { type NatsServer, startNatsServer } from "@reins/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "../session-store.js";
import { startStore, testConfig } from "../testing/fixtures.js";
import { createSessionServiceImpl } from "./service.js";

let nats: NatsServer;
let store: SessionStore;
beforeAll(async () => {
  nats = await startNatsServer();
  store = await startStore(nats.url);
});
afterAll(async () => {
  await store?.close();
  await nats?.stop();
});

const client = () =>
  createClient(
    SessionService,
    createRouterTransport(({ service }) => service(SessionService, createSessionServiceImpl(store))),
  );

const message = (traceId: string, id?: string) =>
  create(EventSchema, { ...(id ? { id } : {}), traceId, payload: { case: "userMessage", value: { text: "hi" } } });

describe("Event.trace_id", () => {
  it("is stored as given and read back with the event", async () => {
    const c = client();
    await c.createSession({ sessionId: "traced-1", config: testConfig() });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const appended = await c.appendEvents({
      sessionId: "traced-1",
      expectedLastSeq: 1n,
      events: [
        message(traceId, "0190a0a0-0000-7000-8000-000000000001"),
        message("", "0190a0a0-0000-7000-8000-000000000002"),
      ],
    });
    expect(appended.events.map((e) => e.traceId)).toEqual([traceId, ""]);
    const read = await c.getEvents({ sessionId: "traced-1", afterSeq: 1n });
    expect(read.events.map((e) => e.traceId)).toEqual([traceId, ""]);
  });

  it.each([
    ["4BF92F3577B34DA6A3CE929D0E0E4736", "uppercase"],
    ["4bf92f3577b34da6a3ce929d0e0e473", "31 digits"],
    ["00000000000000000000000000000000", "all zeros"],
    ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a whole traceparent"],
    ["x".repeat(5_000), "long"],
  ])("refuses %s (%s) with INVALID_ARGUMENT naming the field, writing nothing", async (traceId) => {
    const c = client();
    const sessionId = `traced-bad-${Math.random().toString(36).slice(2, 8)}`;
    await c.createSession({ sessionId, config: testConfig() });
    const err = await c
      .appendEvents({
        sessionId,
        expectedLastSeq: 1n,
        events: [message(traceId, "0190a0a0-0000-7000-8000-000000000003")],
      })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toMatch(/^events\[0\]\.trace_id ".*" is not a W3C trace id: use 32 lowercase hex digits/);
    expect(err?.rawMessage.length).toBeLessThan(300);
    expect((await c.getSession({ sessionId })).session?.lastSeq).toBe(1n);
  });

  it("is checked on CreateSession's initial events too", async () => {
    const err = await client()
      .createSession({
        sessionId: "traced-initial",
        config: testConfig(),
        initialEvents: [message("nothex", "0190a0a0-0000-7000-8000-000000000004")],
      })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toMatch(/^initial_events\[0\]\.trace_id "nothex" is not a W3C trace id/);
  });
});
