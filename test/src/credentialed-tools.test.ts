import { toBinary } from "@bufbuild/protobuf";
import { outcomeUnknown } from "@reins/harness-core";
import { type Event, EventSchema, RunState, StopReason } from "@reins/proto";
import {
  type FakeTurn,
  lastToolResults,
  type ReceivedToolResult,
  scriptTurns,
  toolPairingProblems,
} from "@reins/testkit";
import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { type CredentialedStack, startCredentialedStack } from "./support/credentialed-stack.js";

// Host tools through the whole stack: real session, executor and harness
// daemons, real nats-server, real Docker containers, the real Anthropic SDK
// against the fake Messages API, and a credentialed HTTP API on 127.0.0.1 that
// answers only with `x-api-key: <canary>`. The canary is in the harness's
// environment; the test looks for it everywhere else.

const config = { model: "claude-test", tools: ["forecast", "fetch", "search"] };

const halves = (s: string) => ({ a: s.slice(0, s.length >> 1), b: s.slice(s.length >> 1) });

function resultsIn(turn: ReceivedToolResult[]): Record<string, ReceivedToolResult> {
  return Object.fromEntries(turn.map((r) => [r.toolUseId, r]));
}

/** Every byte NATS holds: each message of each stream (the event log, the session index, the wake queue). */
async function natsBytes(url: string): Promise<Buffer[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    const chunks: Buffer[] = [];
    for await (const stream of jsm.streams.list()) {
      const { first_seq, last_seq } = stream.state;
      for (let seq = first_seq; seq > 0 && seq <= last_seq; seq++) {
        const message = await jsm.streams.getMessage(stream.config.name, { seq }).catch(() => undefined);
        if (!message) continue;
        chunks.push(Buffer.from(message.subject), Buffer.from(message.data));
        if (message.header) chunks.push(Buffer.from(message.header.toString()));
      }
    }
    return chunks;
  } finally {
    await nc.close();
  }
}

/** Where the canary was found, outside the harness process and the API it is meant for. */
async function leaks(stack: CredentialedStack, events: readonly Event[]): Promise<string[]> {
  const found: string[] = [];
  const has = (bytes: Uint8Array | string) => Buffer.from(bytes).includes(stack.canary);
  for (const event of events) if (has(toBinary(EventSchema, event))) found.push(`event seq ${event.seq}`);
  for (const bytes of await natsBytes(stack.nats.url)) if (has(bytes)) found.push("a NATS stream message");
  for (const daemon of stack.daemons) {
    for (const line of daemon.output) if (has(line)) found.push(`daemon ${daemon.pid} log line: ${line}`);
  }
  for (const request of stack.fake.requests) {
    if (has(JSON.stringify(request.body)) || has(JSON.stringify(request.headers))) found.push("a model request");
  }
  for (const container of stack.containers.inspected) if (has(container.json)) found.push(`container ${container.id}`);
  return found;
}

describe("credentialed tools run in the harness, outside the sandbox", { timeout: 300_000 }, () => {
  it("the model gets the API's data; the secret is in no event, log line, model request or container", async () => {
    await using stack = await startCredentialedStack(() => ({ content: [{ type: "text", text: "unused" }] }));
    const turns: FakeTurn[] = [
      {
        content: [
          { type: "tool_use", id: "toolu_forecast", name: "forecast", input: { city: "Oslo" } },
          { type: "tool_use", id: "toolu_outsider", name: "fetch", input: { url: `${stack.outsider.origin}/steal` } },
          { type: "tool_use", id: "toolu_redirect", name: "fetch", input: { url: `${stack.api.origin}/away` } },
          { type: "tool_use", id: "toolu_bad_input", name: "forecast", input: { city: 42 } },
        ],
      },
      {
        content: [
          { type: "tool_use", id: "toolu_search_canary", name: "search", input: halves(stack.canary) },
          { type: "tool_use", id: "toolu_search_marker", name: "search", input: halves(stack.marker) },
        ],
      },
      { content: [{ type: "text", text: "Done." }] },
    ];
    stack.fake.setScript(scriptTurns(turns));

    const { sessionId } = await stack.client().startSession({ config, message: "What is the forecast for Oslo?" });
    const events = await stack.settled(sessionId);
    const status = events.findLast((e) => e.payload.case === "sessionStatus")?.payload.value;
    expect(status).toMatchObject({ state: RunState.IDLE, stopReason: StopReason.END_TURN });
    await stack.containers.stop();

    // The API saw the secret on the calls that passed the checks; its redirect elsewhere was not followed.
    expect(stack.api.seen.toSorted((x, y) => x.url.localeCompare(y.url))).toEqual([
      { method: "GET", url: "/away", apiKey: stack.canary },
      { method: "GET", url: "/forecast/Oslo", apiKey: stack.canary },
    ]);
    expect(stack.outsider.seen).toEqual([]);

    const requests = stack.fake.answered();
    expect(requests).toHaveLength(3);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
    const hosted = resultsIn(lastToolResults(requests[1]?.body));
    expect(hosted.toolu_forecast).toMatchObject({ isError: false });
    expect(JSON.parse(hosted.toolu_forecast?.content ?? "")).toEqual({ city: "Oslo", data: stack.data });
    expect(hosted.toolu_outsider).toMatchObject({ isError: true });
    expect(hosted.toolu_outsider?.content).toContain(`fetch may not call ${stack.outsider.origin}`);
    expect(hosted.toolu_redirect).toMatchObject({ isError: true });
    expect(hosted.toolu_redirect?.content).toContain(`redirected to ${stack.outsider.origin}`);
    expect(hosted.toolu_bad_input).toMatchObject({ isError: true });
    expect(hosted.toolu_bad_input?.content).toContain("does not match the schema of tool forecast");

    // The same search finds the marker the sandbox was given, and not the canary.
    const searched = resultsIn(lastToolResults(requests[2]?.body));
    expect(searched.toolu_search_marker?.content).toMatch(/found in \/proc\/\d+\/environ/);
    expect(searched.toolu_search_canary?.content).toContain("search done");
    expect(searched.toolu_search_canary?.content).not.toContain("found in");
    expect(searched.toolu_search_canary?.content).toContain("/etc");

    // Every container the executor made was inspected, and the searches ran in some of them.
    expect(stack.containers.missed).toEqual([]);
    expect(stack.containers.inspected.length).toBeGreaterThanOrEqual(2);
    // The log names the host tools and records their calls and results, but holds no secret.
    const created = events[0]?.payload.case === "sessionCreated" ? events[0].payload.value.config : undefined;
    expect(created?.toolDefinitions.map((d) => d.name)).toEqual(["forecast", "fetch", "search"]);
    expect(await leaks(stack, events)).toEqual([]);
  });

  it("Interrupt cancels a host tool call in flight and answers it 'interrupted; outcome unknown'", async () => {
    await using stack = await startCredentialedStack(() => ({ content: [{ type: "text", text: "unused" }] }));
    stack.fake.setScript(
      scriptTurns([
        {
          content: [{ type: "tool_use", id: "toolu_slow", name: "fetch", input: { url: `${stack.api.origin}/slow` } }],
        },
        { content: [{ type: "text", text: "Understood." }] },
      ]),
    );
    const { sessionId } = await stack
      .client()
      .startSession({ config: { model: "claude-test", tools: ["fetch"] }, message: "go" });
    await expect.poll(() => stack.api.seen.length, { timeout: 60_000 }).toBe(1);
    await stack.client().interrupt({ sessionId, reason: "too slow" });
    const events = (await stack.sessions.getEvents({ sessionId })).events;
    const result = events.find((e) => e.payload.case === "agentToolResult")?.payload.value;
    expect(result).toMatchObject({ toolUseId: "toolu_slow", isError: true, output: outcomeUnknown });
    const status = events.findLast((e) => e.payload.case === "sessionStatus")?.payload.value;
    expect(status).toMatchObject({ state: RunState.IDLE, stopReason: StopReason.INTERRUPTED });
    stack.api.release();
    await stack.containers.stop();
    expect(await leaks(stack, events)).toEqual([]);
  });

  it("a crash while a host tool call is in flight: the call is not re-run unless its tool is idempotent", async () => {
    await using stack = await startCredentialedStack(() => ({ content: [{ type: "text", text: "unused" }] }));
    const slow = `${stack.api.origin}/slow`;
    stack.fake.setScript(
      scriptTurns([
        {
          content: [
            { type: "tool_use", id: "toolu_once", name: "fetch", input: { url: slow } },
            { type: "tool_use", id: "toolu_again", name: "fetch_again", input: { url: slow } },
          ],
        },
        { content: [{ type: "text", text: "Done." }] },
      ]),
    );
    const { sessionId } = await stack
      .client()
      .startSession({ config: { model: "claude-test", tools: ["fetch", "fetch_again"] }, message: "go" });
    // Both requests reached the API and wait for an answer: the harness dies mid-call.
    await expect.poll(() => stack.api.seen.length, { timeout: 60_000 }).toBe(2);
    await stack.harness().kill("SIGKILL");
    stack.api.release();

    await stack.startHarness();
    const { lastSeq } = await stack.client().wake({ sessionId });
    const events = await stack.settled(sessionId, lastSeq);
    const status = events.findLast((e) => e.payload.case === "sessionStatus")?.payload.value;
    expect(status).toMatchObject({ state: RunState.IDLE, stopReason: StopReason.END_TURN });

    const results = resultsIn(lastToolResults(stack.fake.answered()[1]?.body));
    expect(results.toolu_once).toMatchObject({ isError: true, content: outcomeUnknown });
    expect(results.toolu_again).toMatchObject({ isError: false, content: `slow ${stack.data}` });
    // The idempotent call ran again; the other one did not.
    expect(stack.api.seen.map((r) => r.url)).toEqual(["/slow", "/slow", "/slow"]);
    expect(toolPairingProblems(stack.fake.requests)).toEqual([]);
    await stack.containers.stop();
    expect(await leaks(stack, events)).toEqual([]);
  });
});
