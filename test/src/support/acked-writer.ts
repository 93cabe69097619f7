import { create } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { type Event, EventSchema, type SessionService } from "@reins/proto";
import { uuidv7 } from "uuidv7";

export interface AckedWriter {
  /** Stops after the append in flight and returns every event the service acknowledged. */
  stop(): Promise<Event[]>;
  /** Appends that failed and were retried (same event, same id). */
  readonly retries: number;
}

/**
 * Appends one user.message at a time to its own session, as fast as the service
 * acknowledges, through whatever faults are injected meanwhile: a failed append
 * is retried with the same event (its id makes the retry safe), so the acked
 * list is exactly what the service promised to keep.
 */
export async function startAckedWriter(
  sessions: Client<typeof SessionService>,
  sessionId: string,
): Promise<AckedWriter> {
  const created = await sessions.createSession({ sessionId, title: "acked writer", config: { model: "none" } });
  let lastSeq = created.session?.lastSeq ?? 1n;
  const acked: Event[] = [];
  let stopping = false;
  let retries = 0;
  const loop = (async () => {
    while (!stopping) {
      // Paced, so the probe leaves the machine to the stack under test.
      await new Promise((r) => setTimeout(r, 20));
      const event = create(EventSchema, {
        id: uuidv7(),
        payload: { case: "userMessage", value: { text: `probe ${acked.length + 1}` } },
      });
      for (;;) {
        try {
          const response = await sessions.appendEvents(
            { sessionId, expectedLastSeq: lastSeq, events: [event] },
            { timeoutMs: 5000 },
          );
          acked.push(...response.events);
          lastSeq = response.lastSeq;
          break;
        } catch (err) {
          const code = ConnectError.from(err).code;
          if (code === Code.InvalidArgument || code === Code.Aborted || code === Code.NotFound) throw err;
          retries++;
          // The service is between NATS leaders; it has no event to wait for.
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      return acked;
    },
    get retries() {
      return retries;
    },
  };
}
