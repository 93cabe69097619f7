import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { AgentConfigSchema, type Event, EventSchema, RunState, SessionService, StopReason } from "@reins/proto";
import {
  createAuthInterceptor,
  createBearerInterceptor,
  createTokenVerifier,
  type TokenGrant,
} from "@reins/service-kit";
import { connect } from "nats";
import { uuidv7 } from "uuidv7";
import type { SessionStoreOptions } from "../config.js";
import { createSessionServiceImpl, sessionServicePolicy } from "../service/index.js";
import { createSessionStore, type SessionStore } from "../session-store.js";

/** A store on a test NATS; `await using` closes it. */
export function startStore(url: string, options: SessionStoreOptions = {}): Promise<SessionStore> {
  return createSessionStore({ servers: url, requestTimeoutMs: 2_000, ...options });
}

export const testConfig = () => create(AgentConfigSchema, { model: "claude-test", systemPrompt: "be brief" });

export function userMessage(text: string, id: string = uuidv7()): Event {
  return create(EventSchema, { id, payload: { case: "userMessage", value: { text } } });
}

export function statusEvent(state: RunState, stopReason = StopReason.UNSPECIFIED, id: string = uuidv7()): Event {
  return create(EventSchema, { id, payload: { case: "sessionStatus", value: { state, stopReason } } });
}

export function spanEvent(inputTokens: number, outputTokens: number, costUsd: number, id: string = uuidv7()): Event {
  return create(EventSchema, {
    id,
    payload: {
      case: "spanModelRequest",
      value: {
        model: "claude-test",
        costUsd,
        usage: { inputTokens: BigInt(inputTokens), outputTokens: BigInt(outputTokens) },
      },
    },
  });
}

export function compactionEvent(firstSeq: number, lastSeq: number, summary: string, id: string = uuidv7()): Event {
  return create(EventSchema, {
    id,
    payload: {
      case: "agentContextCompacted",
      value: {
        summary,
        firstSeq: BigInt(firstSeq),
        lastSeq: BigInt(lastSeq),
        tokensBefore: 48_000n,
        tokensAfter: 3_000n,
        reason: "threshold",
      },
    },
  });
}

export { RunState, StopReason };

/** One JetStream API request as a third party on the server sees it. */
export interface JsRequest {
  readonly subject: string;
  readonly body: string;
}

/**
 * Records the JetStream API requests (`$JS.API.>`: direct gets, consumer
 * creation, ...) any client sends to the server, to assert on what the store
 * reads rather than on how long it takes.
 */
export async function watchJetStreamApi(url: string) {
  const nc = await connect({ servers: url });
  const seen: JsRequest[] = [];
  const utf8 = new TextDecoder();
  nc.subscribe("$JS.API.>", {
    callback: (_err, msg) => seen.push({ subject: msg.subject, body: utf8.decode(msg.data) }),
  });
  await nc.flush();
  return {
    /** Runs `work`; returns its result and the requests on `stream` made meanwhile. */
    async during<T>(stream: string, work: () => Promise<T>): Promise<{ result: T; requests: JsRequest[] }> {
      seen.length = 0;
      const result = await work();
      // Every request the work made reached the server before its answer came
      // back, so it is queued for this connection before the flush's reply.
      await nc.flush();
      return { result, requests: seen.filter((r) => r.subject.includes(`.${stream}`)) };
    },
    [Symbol.asyncDispose]: () => nc.close(),
  };
}

/** Texts of user.message events, for compact assertions. */
export const texts = (events: readonly Event[]) =>
  events.map((e) => (e.payload.case === "userMessage" ? e.payload.value.text : `<${e.payload.case}>`));

export const seqs = (events: readonly Event[]) => events.map((e) => Number(e.seq));

/**
 * A client of the real handlers behind the real auth interceptor, in-process,
 * calling with `token` (and `headers`, e.g. a tenant) as the caller would.
 */
export function clientWithToken(
  store: SessionStore,
  grants: readonly TokenGrant[],
  token: string,
  headers: Record<string, string> = {},
) {
  return createClient(
    SessionService,
    createRouterTransport(({ service }) => service(SessionService, createSessionServiceImpl(store)), {
      router: {
        // Outermost first: the caller's headers, then the service's auth.
        interceptors: [
          createBearerInterceptor(token),
          ((next) => (req) => {
            for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
            return next(req);
          }) satisfies Interceptor,
          createAuthInterceptor({ verify: createTokenVerifier(grants), methods: sessionServicePolicy }),
        ],
      },
    }),
  );
}
