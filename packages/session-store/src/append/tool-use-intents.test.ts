import { create } from "@bufbuild/protobuf";
import { type Event, EventSchema } from "@reins/proto";
import { type NatsServer, startNatsServer } from "@reins/testkit";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidRequestError } from "../errors.js";
import { startStore, testConfig, userMessage } from "../testing/fixtures.js";

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

const intent = (toolUseId: string, id: string = uuidv7()): Event =>
  create(EventSchema, {
    id,
    payload: { case: "agentToolUseStarted", value: { toolUseId, name: "sh", inputJson: "{}" } },
  });

const answer = (...toolUseIds: string[]): Event =>
  create(EventSchema, {
    id: uuidv7(),
    payload: {
      case: "agentMessage",
      value: {
        model: "claude-test",
        content: toolUseIds.map((id) => ({
          block: { case: "toolUse" as const, value: { id, name: "sh", inputJson: "{}" } },
        })),
      },
    },
  });

async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => new Error("expected the append to be refused"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidRequestError);
  return (err as Error).message;
}

describe("tool_use intents", () => {
  it("refuses a second agent.tool_use_started for a tool_use id, on this replica and on one that reads the log cold", async () => {
    await using store = await startStore(nats.url);
    await store.createSession({ sessionId: "intents", config: testConfig() });
    const first = [answer("toolu_1"), intent("toolu_1")];
    await store.appendEvents("intents", 1, first);
    const again = intent("toolu_1");
    expect(await refusal(store.appendEvents("intents", 3, [userMessage("x"), again]))).toBe(
      `events[1] (id "${again.id}") is an agent.tool_use_started for tool_use "toolu_1", which the log already has at seq 3: each tool call is started once, and tool_use ids are unique in a session`,
    );
    // Another replica knows the intents from the stored events' heads alone.
    await using cold = await startStore(nats.url);
    await refusal(cold.appendEvents("intents", 3, [intent("toolu_1")]));
    expect((await store.getEvents("intents")).lastSeq).toBe(3);

    // A retry of the batch that wrote the intent is still answered with the originals.
    const retried = await cold.appendEvents("intents", 1, first);
    expect(retried.events.map((e) => Number(e.seq))).toEqual([2, 3]);
    // Other tool_use ids start as before.
    expect((await cold.appendEvents("intents", 3, [answer("toolu_2"), intent("toolu_2")])).lastSeq).toBe(5);
  });

  it("refuses two intents of one tool_use id in one batch, and an answer with two tool_use blocks of one id", async () => {
    await using store = await startStore(nats.url);
    await store.createSession({ sessionId: "intents-batch", config: testConfig() });
    const second = intent("toolu_a");
    expect(await refusal(store.appendEvents("intents-batch", 1, [intent("toolu_a"), second]))).toBe(
      `events[1] (id "${second.id}") is a second agent.tool_use_started for tool_use "toolu_a" (the first is events[0]): each tool call is started once`,
    );
    const twice = answer("toolu_a", "toolu_b", "toolu_a");
    expect(await refusal(store.appendEvents("intents-batch", 1, [twice]))).toBe(
      `events[0] (id "${twice.id}"): agent_message.content[2].tool_use.id "toolu_a" is also the id of content[0]: tool_use ids must be unique`,
    );
    expect((await store.getEvents("intents-batch")).lastSeq).toBe(1);
  });
});
