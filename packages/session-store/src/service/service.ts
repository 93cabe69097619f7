import { create } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { context, SpanKind } from "@opentelemetry/api";
import {
  type AppendEventsRequest,
  AppendEventsResponseSchema,
  CreateSessionResponseSchema,
  DeleteSessionResponseSchema,
  type Event,
  GetEventsResponseSchema,
  GetLatestEventResponseSchema,
  GetSessionResponseSchema,
  ListSessionsResponseSchema,
  type SessionService,
  StreamEventsResponseSchema,
} from "@reins/proto";
import { contextFromHeaders, contextFromTraceparent, inSpan, principalKey } from "@reins/service-kit";
import { SessionExistsError, SessionNotFoundError, toConnectError } from "../errors.js";
import { wireFormOf } from "../log/index.js";
import type { OwnerOption, SessionStore } from "../session-store.js";
import { appendScopeOf, mayWriteEvents, scopeOf, tenantForCreate } from "./access.js";
import { serveAppendStream } from "./append-stream.js";

/** Runs a handler body and maps whatever it throws through toConnectError. */
async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw toConnectError(err);
  }
}

/**
 * The store option that confines a call to the caller's tenant: the store checks
 * the owner on the state it acts on, under its lock, never in a step before.
 */
const ownerOf = (ctx: HandlerContext): OwnerOption => owner(scopeOf(ctx));
const owner = (scope: string | undefined): OwnerOption => (scope === undefined ? {} : { tenant: scope });

const isBinary = (ctx: HandlerContext) => !(ctx.requestHeader.get("content-type") ?? "").includes("json");

/**
 * Puts `events` into a response as its field 1 (`events` / `event`). For binary
 * clients the events' stored bytes are spliced in as they are (as unknown fields,
 * which protobuf writes verbatim); re-encoding thousands of events per page was
 * most of a large read's cost. JSON clients get the decoded events.
 */
function withEvents<T extends { $unknown?: { no: number; wireType: WireType; data: Uint8Array }[] }>(
  ctx: HandlerContext,
  response: T,
  events: readonly Event[],
  set: (response: T) => void,
): T {
  const binary = isBinary(ctx);
  const wire = binary ? events.map(wireFormOf) : [];
  if (binary && wire.every((w) => w !== undefined)) {
    response.$unknown = wire.map((data) => ({ no: 1, wireType: WireType.LengthDelimited, data }));
  } else {
    set(response);
  }
  return response;
}

const appendSpan = {
  kind: SpanKind.SERVER,
  attributes: {
    "rpc.system": "grpc",
    "rpc.service": "reins.session.v1.SessionService",
    "rpc.method": "AppendEventsStream",
  },
};

/**
 * The reins.session.v1.SessionService handlers over a store. Mount with
 * `bindService(SessionService, impl)` on `startServer`, or on a router transport
 * (`createRouterTransport`) to call it in-process. Calls confined to a tenant
 * (see access.ts) see only that tenant's sessions; with authentication off every
 * call may touch every session.
 */
export function createSessionServiceImpl(store: SessionStore): ServiceImpl<typeof SessionService> {
  const append = async (req: AppendEventsRequest, confined: OwnerOption) => {
    const { events, lastSeq } = await store.appendEvents(req.sessionId, req.expectedLastSeq, req.events, confined);
    return create(AppendEventsResponseSchema, { events, lastSeq: BigInt(lastSeq) });
  };
  return {
    createSession: (req, ctx) =>
      mapped(async () => {
        if (req.initialEvents.length > 0 && !mayWriteEvents(ctx)) {
          // Else a client could forge the model's answers or tool results (see access.ts).
          throw new ConnectError(
            `initial_events: role "${ctx.values.get(principalKey).role}" may not write events; start a session with its first message through the harness`,
            Code.PermissionDenied,
          );
        }
        const tenant = tenantForCreate(ctx, req.tenant);
        // Another tenant's session: that the id is taken is all the caller learns
        // (not its created event id, nor, for a retry of the same ids, the session).
        const taken = (sessionId: string) =>
          new ConnectError(`session "${sessionId}" already exists`, Code.AlreadyExists);
        const { session, event, initialEvents } = await store
          .createSession({
            sessionId: req.sessionId,
            title: req.title,
            eventId: req.eventId,
            tenant,
            initialEvents: req.initialEvents,
            ...(req.config ? { config: req.config } : {}),
          })
          .catch(async (err: unknown) => {
            if (err instanceof SessionExistsError) {
              const existing = await store.getSession(err.sessionId).catch(() => undefined);
              if (existing && existing.tenant !== tenant) throw taken(err.sessionId);
            }
            throw err;
          });
        if (session.tenant !== tenant) throw taken(session.sessionId);
        return create(CreateSessionResponseSchema, { session, event, initialEvents });
      }),

    getSession: (req, ctx) =>
      mapped(async () => {
        const scope = scopeOf(ctx);
        const session = await store.getSession(req.sessionId);
        if (scope !== undefined && session.tenant !== scope) throw new SessionNotFoundError(req.sessionId);
        return create(GetSessionResponseSchema, { session });
      }),

    listSessions: (req, ctx) =>
      mapped(async () => {
        const scope = scopeOf(ctx);
        return create(
          ListSessionsResponseSchema,
          await store.listSessions({
            pageSize: req.pageSize,
            pageToken: req.pageToken,
            state: req.state,
            ...(scope !== undefined ? { tenant: scope } : {}),
          }),
        );
      }),

    appendEvents: (req, ctx) => mapped(() => append(req, ownerOf(ctx))),

    // Each append on the stream is an AppendEvents (serveAppendStream maps its errors),
    // with a server span of its own in the trace it names: the stream outlives
    // many runs, so it has none (see service-kit's createServerSpanInterceptor).
    appendEventsStream: (requests, ctx) => {
      const streamContext = contextFromHeaders(ctx.requestHeader);
      return serveAppendStream(
        requests,
        (req, tenant, carried) =>
          context.with(
            carried.traceparent === ""
              ? streamContext
              : contextFromTraceparent(carried.traceparent, carried.tracestate),
            () =>
              inSpan("@reins/session-store", "reins.session.v1.SessionService/AppendEventsStream", appendSpan, () =>
                append(req, owner(appendScopeOf(ctx, tenant))),
              ),
          ),
        { register: store.trackStream },
      );
    },

    getEvents: (req, ctx) =>
      mapped(async () => {
        const page = await store.getEvents(req.sessionId, {
          afterSeq: req.afterSeq,
          limit: req.limit,
          types: req.types,
          ...ownerOf(ctx),
        });
        const response = create(GetEventsResponseSchema, {
          // Nothing examined: echo the cursor as sent (it may exceed 2^53).
          nextAfterSeq: page.nextAfterSeq === Number(req.afterSeq) ? req.afterSeq : BigInt(page.nextAfterSeq),
          lastSeq: BigInt(page.lastSeq),
        });
        if (isBinary(ctx)) {
          response.$unknown = page.wire.map((data) => ({ no: 1, wireType: WireType.LengthDelimited, data }));
        } else {
          response.events = page.events;
        }
        return response;
      }),

    getLatestEvent: (req, ctx) =>
      mapped(async () => {
        const { event, lastSeq } = await store.getLatestEvent(req.sessionId, req.type, ownerOf(ctx));
        const response = create(GetLatestEventResponseSchema, { lastSeq: BigInt(lastSeq) });
        if (!event) return response;
        return withEvents(ctx, response, [event], (r) => {
          r.event = event;
        });
      }),

    async *streamEvents(req, ctx) {
      const events = store.streamEvents(req.sessionId, {
        afterSeq: req.afterSeq,
        types: req.types,
        signal: ctx.signal,
        ...ownerOf(ctx),
      });
      try {
        for await (const event of events) {
          yield withEvents(ctx, create(StreamEventsResponseSchema), [event], (r) => {
            r.event = event;
          });
        }
      } catch (err) {
        throw toConnectError(err);
      }
    },

    deleteSession: (req, ctx) =>
      mapped(async () => {
        const { purgedEvents } = await store.deleteSession(req.sessionId, ownerOf(ctx));
        return create(DeleteSessionResponseSchema, { purgedEvents: BigInt(purgedEvents) });
      }),
  };
}
