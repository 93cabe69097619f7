import { create } from "@bufbuild/protobuf";
import { AgentConfigSchema, type Event, EventSchema, RunState, StopReason } from "@reins/proto";
import { uuidv7 } from "uuidv7";
import type { SessionStoreOptions } from "./config.js";
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
