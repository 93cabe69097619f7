import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { AgentConfigSchema, type Event, EventSchema, RunState, SessionService, StopReason } from "@reins/proto";
import { createAuthInterceptor, createTokenVerifier, type TokenGrant } from "@reins/service-kit";
import { uuidv7 } from "uuidv7";
import { sessionServicePolicy } from "./access.js";
import type { SessionStoreOptions } from "./config.js";
import { createSessionServiceImpl } from "./service.js";
import { createSessionStore, type SessionStore } from "./session-store.js";

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

export { RunState, StopReason };

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
          ((next) => (req) => {
            req.header.set("authorization", `Bearer ${token}`);
            for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
            return next(req);
          }) satisfies Interceptor,
          createAuthInterceptor({ verify: createTokenVerifier(grants), methods: sessionServicePolicy }),
        ],
      },
    }),
  );
}
