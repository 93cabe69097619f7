import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  AppendEventsResponseSchema,
  CreateSessionResponseSchema,
  DeleteSessionResponseSchema,
  GetEventsResponseSchema,
  GetSessionResponseSchema,
  ListSessionsResponseSchema,
  type SessionService,
  StreamEventsResponseSchema,
} from "@reins/proto";
import { toConnectError } from "./nats-error.js";
import type { SessionStore } from "./session-store.js";

/** Runs a handler body and maps whatever it throws through toConnectError. */
async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw toConnectError(err);
  }
}

/**
 * The reins.session.v1.SessionService handlers over a store. Mount with
 * `bindService(SessionService, impl)` on `startServer`, or on a router transport
 * (`createRouterTransport`) to call it in-process.
 */
export function createSessionServiceImpl(store: SessionStore): ServiceImpl<typeof SessionService> {
  return {
    createSession: (req) =>
      mapped(async () => {
        const { session, event } = await store.createSession({
          sessionId: req.sessionId,
          title: req.title,
          eventId: req.eventId,
          ...(req.config ? { config: req.config } : {}),
        });
        return create(CreateSessionResponseSchema, { session, event });
      }),

    getSession: (req) =>
      mapped(async () => create(GetSessionResponseSchema, { session: await store.getSession(req.sessionId) })),

    listSessions: (req) =>
      mapped(async () =>
        create(
          ListSessionsResponseSchema,
          await store.listSessions({ pageSize: req.pageSize, pageToken: req.pageToken, state: req.state }),
        ),
      ),

    appendEvents: (req) =>
      mapped(async () => {
        const { events, lastSeq } = await store.appendEvents(req.sessionId, req.expectedLastSeq, req.events);
        return create(AppendEventsResponseSchema, { events, lastSeq: BigInt(lastSeq) });
      }),

    getEvents: (req) =>
      mapped(async () => {
        const page = await store.getEvents(req.sessionId, {
          afterSeq: req.afterSeq,
          limit: req.limit,
          types: req.types,
        });
        return create(GetEventsResponseSchema, {
          events: page.events,
          nextAfterSeq: BigInt(page.nextAfterSeq),
          lastSeq: BigInt(page.lastSeq),
        });
      }),

    async *streamEvents(req, ctx) {
      const events = store.streamEvents(req.sessionId, {
        afterSeq: req.afterSeq,
        types: req.types,
        signal: ctx.signal,
      });
      try {
        for await (const event of events) yield create(StreamEventsResponseSchema, { event });
      } catch (err) {
        throw toConnectError(err);
      }
    },

    deleteSession: (req) =>
      mapped(async () => {
        const { purgedEvents } = await store.deleteSession(req.sessionId);
        return create(DeleteSessionResponseSchema, { purgedEvents: BigInt(purgedEvents) });
      }),
  };
}
