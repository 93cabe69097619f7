import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Event, EventSchema, RunState, SessionService, StopReason } from "@reins/proto";
import { type Daemon, type NatsServer, startDaemon, startNatsServer } from "@reins/testkit";
import { afterAll, beforeAll } from "vitest";

export interface SessionDaemon {
  readonly nats: NatsServer;
  readonly daemon: Daemon;
  readonly client: Client<typeof SessionService>;
  /** A session with a few events that no hostile call may change. */
  readonly victim: string;
  /**
   * The victim's whole log and the ids of every session (but scratch-* ones, which tests
   * make to be written to): what no hostile call may change.
   */
  snapshot(): Promise<{ events: Event[]; sessions: string[] }>;
}

const userMessage = (id: string, text: string) =>
  create(EventSchema, { id, payload: { case: "userMessage", value: { text } } });

/**
 * A real nats-server and the built session daemon for the calling test file, with one
 * idle session of four events; both stopped after the file's last test.
 */
export function useSessionDaemon(env: Record<string, string> = {}): () => SessionDaemon {
  let nats: NatsServer | undefined;
  let daemon: Daemon | undefined;
  let fixture: SessionDaemon | undefined;
  beforeAll(async () => {
    nats = await startNatsServer();
    daemon = await startDaemon({
      app: "session",
      env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url, ...env },
    });
    const client = createClient(SessionService, createGrpcTransport({ baseUrl: daemon.url }));
    const victim = "victim";
    await client.createSession({ sessionId: victim, title: "must not change", config: { model: "m", tools: ["sh"] } });
    await client.appendEvents({
      sessionId: victim,
      expectedLastSeq: 1n,
      events: [
        userMessage("victim-1", "hello"),
        create(EventSchema, {
          id: "victim-2",
          payload: { case: "sessionStatus", value: { state: RunState.RUNNING } },
        }),
        create(EventSchema, {
          id: "victim-3",
          payload: { case: "sessionStatus", value: { state: RunState.IDLE, stopReason: StopReason.END_TURN } },
        }),
      ],
    });
    const snapshot = async () => {
      const { events } = await client.getEvents({ sessionId: victim });
      const { sessions } = await client.listSessions({ pageSize: 1000 });
      const ids = sessions.map((s) => s.sessionId).filter((id) => !id.startsWith("scratch-"));
      return { events, sessions: ids.sort() };
    };
    fixture = { nats, daemon, client, victim, snapshot };
  }, 60_000);
  afterAll(async () => {
    await daemon?.kill("SIGTERM");
    await nats?.stop();
  });
  return () => {
    if (!fixture) throw new Error("the session daemon did not start");
    return fixture;
  };
}
