import { HarnessService } from "@reins/proto";
import { type FakeScript, scriptTurns, testImage } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { ownedFixture, shCatalog, startDaemonStack } from "./support/daemon-stack.js";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "./support/otlp-receiver.js";

// One session through the whole stack with tracing on: the three daemons export
// to an OTLP/HTTP receiver in this process, the client sends its own
// traceparent, and the trace that comes back must be one tree under it.

const clientTrace = "0af7651916cd43dd8448eb211c80319c";
const clientSpan = "b7ad6b7169203331";
const modelKey = "sk-ant-trace-test-model-key-0123456789";
const executorToken = "trace-test-executor-token-0123456789";
// Content that must never reach an attribute: the user's message, the tool's input and output, the model's text.
const userText = "please list the secret-user-text directory";
const toolMarker = "tool-output-marker-4242";
const modelText = "model-text-marker: running it now";

const usage = [
  { input_tokens: 1234, output_tokens: 56, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  { input_tokens: 1300, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
];
const script: FakeScript = scriptTurns([
  {
    content: [
      { type: "text", text: modelText },
      { type: "tool_use", id: "toolu_traced", name: "sh", input: { command: `echo ${toolMarker}` } },
    ],
    usage: usage[0],
  },
  { content: [{ type: "text", text: "Done." }], usage: usage[1] },
]);

async function startTracedStack() {
  return ownedFixture(async (own) => {
    const receiver = own(await startOtlpReceiver());
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url };
    const stack = own(
      await startDaemonStack({
        script,
        catalog: shCatalog(testImage(), { pool: 1 }),
        executorToken,
        sessionEnv: otel,
        executorEnv: otel,
        // The wake queue (the default mode): the run's trace context travels in the wake's NATS headers.
        harnessEnv: { ...otel, ANTHROPIC_API_KEY: modelKey, REINS_MODEL_BACKOFF_MS: "10" },
      }),
    );
    return { receiver, stack };
  });
}

const byId = (spans: readonly ReceivedSpan[]) => new Map(spans.map((s) => [s.spanId, s]));
const serviceOf = (span: ReceivedSpan | undefined) => span?.resource["service.name"];

function only(spans: readonly ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  expect(
    found.map((s) => s.name),
    `spans named ${name}`,
  ).toEqual([name]);
  return found[0] as ReceivedSpan;
}

function ancestors(span: ReceivedSpan, spans: ReadonlyMap<string, ReceivedSpan>): ReceivedSpan[] {
  const chain: ReceivedSpan[] = [];
  for (let at = spans.get(span.parentSpanId); at; at = spans.get(at.parentSpanId)) chain.push(at);
  return chain;
}

function allStrings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(allStrings);
  return [];
}

describe("OpenTelemetry traces through the stack", { timeout: 120_000 }, () => {
  it("exports one trace under the client's traceparent across harness, session and executor, with GenAI attributes and no secret", async () => {
    await using fixture = await startTracedStack();
    const { receiver, stack } = fixture;
    const harness = stack.client(HarnessService, stack.harness().url);
    const { sessionId } = await harness.startSession(
      { config: { model: "claude-test", systemPrompt: "Be brief.", tools: ["sh"] }, message: userText },
      { headers: { traceparent: `00-${clientTrace}-${clientSpan}-01` } },
    );
    const events = await stack.settled(sessionId);
    expect(stack.fake?.answered()).toHaveLength(2);

    // Every event of the session was written in the client's trace, so the log links to it.
    expect(events.length).toBeGreaterThan(5);
    expect(events.filter((e) => e.traceId !== clientTrace).map((e) => `${e.seq} ${e.payload.case}`)).toEqual([]);

    // SIGTERM flushes each daemon's spans before it exits (harness first: it still appends while it stops).
    for (const daemon of [stack.harness(), stack.executor(), stack.session]) await daemon.kill("SIGTERM");
    await waitForTrace(receiver);
    expect(receiver.refused).toEqual([]);

    const trace = receiver.spans.filter((s) => s.traceId === clientTrace);
    const spans = byId(trace);
    expect(new Set(trace.map(serviceOf))).toEqual(new Set(["reins-harness", "reins-session", "reins-executor"]));
    // One tree: every span's parent was received too, except the root's, which is the client's.
    expect(trace.filter((s) => !spans.has(s.parentSpanId)).map((s) => [s.name, s.parentSpanId])).toEqual([
      ["reins.harness.v1.HarnessService/StartSession", clientSpan],
    ]);

    const start = only(trace, "reins.harness.v1.HarnessService/StartSession");
    expect(start.kind).toBe(2);
    expect(start.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "reins.harness.v1.HarnessService",
      "rpc.method": "StartSession",
      "rpc.grpc.status_code": 0,
    });
    const create = only(trace, "reins.session.v1.SessionService/CreateSession");
    expect([serviceOf(create), create.parentSpanId]).toEqual(["reins-session", start.spanId]);

    // The run, taken off the wake queue, is a child of the call that caused it.
    const run = only(trace, "session.run");
    expect([serviceOf(run), run.parentSpanId, run.attributes["reins.session.id"]]).toEqual([
      "reins-harness",
      start.spanId,
      sessionId,
    ]);

    const chats = trace.filter((s) => s.name === "chat claude-test");
    expect(chats).toHaveLength(2);
    chats.forEach((chat, i) => {
      expect(chat.parentSpanId).toBe(run.spanId);
      expect(chat.kind).toBe(3);
      expect(chat.attributes).toMatchObject({
        "gen_ai.system": "anthropic",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "claude-test",
        "gen_ai.response.model": "claude-test",
        "gen_ai.usage.input_tokens": usage[i]?.input_tokens,
        "gen_ai.usage.output_tokens": usage[i]?.output_tokens,
        "gen_ai.response.finish_reasons": [i === 0 ? "tool_use" : "end_turn"],
        "server.address": "127.0.0.1",
      });
    });

    // The SDK's span of each HTTP call is under its chat span; no trace context went to the model's API.
    const calls = trace.filter((s) => s.name === "anthropic.messages.create");
    expect(calls.map((s) => s.parentSpanId).sort()).toEqual(chats.map((c) => c.spanId).sort());
    expect(stack.fake?.requests.filter((r) => r.headers.traceparent !== undefined)).toEqual([]);

    const tool = only(trace, "execute_tool sh");
    expect(tool.parentSpanId).toBe(run.spanId);
    expect(tool.attributes).toMatchObject({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "sh",
      "gen_ai.tool.call.id": "toolu_traced",
      "reins.tool.kind": "executor",
      "reins.tool.is_error": false,
    });
    const execute = only(trace, "reins.executor.v1.ExecutorService/Execute");
    expect([serviceOf(execute), execute.parentSpanId]).toEqual(["reins-executor", tool.spanId]);
    const containerCreate = only(trace, "container.create");
    const containerRun = only(trace, "container.run");
    expect([containerCreate.parentSpanId, containerRun.parentSpanId]).toEqual([execute.spanId, execute.spanId]);
    expect(containerRun.attributes["reins.container.exit_code"]).toBe(0);

    // Appends: each on the harness's stream is a server span in the session service
    // under the harness span it was made in, around the store's session.append.
    const appends = trace.filter((s) => s.name === "reins.session.v1.SessionService/AppendEventsStream");
    expect(appends.length).toBeGreaterThanOrEqual(3);
    for (const append of appends) {
      expect(serviceOf(append)).toBe("reins-session");
      expect(serviceOf(spans.get(append.parentSpanId))).toBe("reins-harness");
    }
    const appendParents = new Set(appends.map((a) => spans.get(a.parentSpanId)?.name));
    expect(appendParents).toContain("session.run");
    for (const name of appendParents) {
      expect(["reins.harness.v1.HarnessService/StartSession", "session.run", "execute_tool sh"]).toContain(name);
    }
    const stored = trace.filter((s) => s.name === "session.append");
    expect(stored.length).toBe(appends.length);
    for (const s of stored) {
      expect(spans.get(s.parentSpanId)?.name).toBe("reins.session.v1.SessionService/AppendEventsStream");
    }
    expect(ancestors(containerRun, spans).map((s) => s.name)).toEqual([
      "reins.executor.v1.ExecutorService/Execute",
      "execute_tool sh",
      "session.run",
      "reins.harness.v1.HarnessService/StartSession",
    ]);

    // No credential and no content in any attribute, span name or resource attribute.
    const exported = receiver.spans.flatMap((s) => [
      s.name,
      s.status.message,
      ...Object.values(s.attributes).flatMap(allStrings),
      ...Object.values(s.resource).flatMap(allStrings),
    ]);
    for (const secret of [modelKey, executorToken, userText, toolMarker, modelText, "secret-user-text"]) {
      expect(
        exported.filter((value) => value.includes(secret)),
        secret,
      ).toEqual([]);
    }

    // Log lines written inside a span carry its ids.
    const traced = (lines: readonly string[]) =>
      lines.flatMap((line) => {
        try {
          const entry = JSON.parse(line) as { trace_id?: string; span_id?: string; msg?: string };
          return entry.trace_id === clientTrace ? [entry] : [];
        } catch {
          return [];
        }
      });
    const runEnded = traced(stack.harness().output).find((e) => e.msg === "run ended");
    expect(runEnded?.span_id).toBe(run.spanId);
    const toolFinished = traced(stack.executor().output).find((e) => e.msg === "tool call finished");
    expect(toolFinished?.span_id).toBe(execute.spanId);
  });
});

// The spans arrive as the daemons flush them on exit; this waits for the last
// one of the trace (the executor's and the run's) rather than for a time.
async function waitForTrace(receiver: OtlpReceiver): Promise<void> {
  const has = (spans: readonly ReceivedSpan[], name: string) =>
    spans.some((s) => s.traceId === clientTrace && s.name === name);
  await receiver.waitFor(
    (spans) =>
      has(spans, "session.run") &&
      has(spans, "container.run") &&
      has(spans, "reins.session.v1.SessionService/CreateSession"),
    AbortSignal.timeout(30_000),
  );
}
