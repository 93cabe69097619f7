import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Event, EventType } from "@reins/proto";
import { startNatsServer } from "@reins/testkit";
import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { encodeBatch } from "../log/index.js";
import {
  clientWithToken,
  compactionEvent,
  type JsRequest,
  RunState,
  StopReason,
  spanEvent,
  startStore,
  statusEvent,
  testConfig,
  userMessage,
  watchJetStreamApi,
} from "../testing/fixtures.js";

const stream = "REINS_EVENTS";
const directGets = (requests: readonly JsRequest[]) => requests.filter((r) => r.subject.includes(".DIRECT.GET."));
const consumerStarts = (requests: readonly JsRequest[]) =>
  requests
    .filter((r) => r.subject.includes(".CONSUMER.CREATE."))
    .map((r) => (JSON.parse(r.body) as { config: { opt_start_seq: number } }).config.opt_start_seq);
/** What a bisection over `streamLength` stream sequences may take, plus the last-message read. */
const seekBound = (streamLength: number) => Math.ceil(Math.log2(streamLength)) + 2;

describe("GetLatestEvent and reads from the index", () => {
  it("answers the latest compaction of a 10,000-event log, and the events after it, without reading the log from its start", async () => {
    await using nats = await startNatsServer();
    await using writer = await startStore(nats.url, { maxEventsPerSecond: 0 });
    await using api = await watchJetStreamApi(nats.url);
    const id = "long-1";
    await writer.createSession({ sessionId: id, config: testConfig() }); // stream seq 1
    await writer.createSession({ sessionId: "noise", config: testConfig() }); // stream seq 2

    // 103 batches of 100 (a compaction every 20 batches, the last one 3 batches
    // before the end), each followed by one of another session: batch j of the
    // session is at stream seq 3 + 2j.
    const compactions: Event[] = [];
    let lastCompactionBatch = -1;
    let last = 1;
    let noiseLast = 1;
    for (let j = 0; j < 103; j++) {
      const batch = Array.from({ length: 99 }, (_, k) => userMessage(`${j}.${k}`));
      if (j % 20 === 19) {
        const compaction = compactionEvent(1, last + 50, `summary ${j}`);
        batch.splice(50, 0, compaction);
        compactions.push(compaction);
        lastCompactionBatch = j;
      } else batch.push(spanEvent(10, 1, 0.001));
      if (j === 102) batch[99] = statusEvent(RunState.IDLE, StopReason.END_TURN); // an eager index write
      last = (await writer.appendEvents(id, last, batch)).lastSeq;
      noiseLast = (await writer.appendEvents("noise", noiseLast, [userMessage("noise")])).lastSeq;
    }
    expect(last).toBe(1 + 103 * 100);
    const latest = compactions.at(-1) as Event;
    const latestSeq = 1 + lastCompactionBatch * 100 + 51;
    const streamLength = 2 + 2 * 103;

    // The replica that wrote it has it cached: one read to check it is current.
    const warm = await api.during(stream, () => writer.getLatestEvent(id, EventType.AGENT_CONTEXT_COMPACTED));
    expect(warm.result.event?.id).toBe(latest.id);
    expect(Number(warm.result.event?.seq)).toBe(latestSeq);
    expect(warm.requests).toHaveLength(1);

    // A replica that never read it: the index names the seq, a seek finds its batch.
    await using cold = await startStore(nats.url);
    const read = await api.during(stream, () => cold.getLatestEvent(id, EventType.AGENT_CONTEXT_COMPACTED));
    expect(read.result).toMatchObject({ lastSeq: last, event: { id: latest.id, seq: BigInt(latestSeq) } });
    expect(read.result.event?.payload).toEqual(latest.payload);
    expect(directGets(read.requests)).toEqual(read.requests); // no consumer: nothing scanned
    expect(read.requests.length).toBeLessThanOrEqual(seekBound(streamLength));

    const none = await api.during(stream, () => cold.getLatestEvent(id, EventType.USER_INTERRUPT));
    expect(none.result).toEqual({ event: undefined, lastSeq: last });
    expect(none.requests).toHaveLength(1);

    // The wake's next read: the events after the checkpoint, and only those are read.
    const tail = await api.during(stream, () => cold.getEvents(id, { afterSeq: latestSeq }));
    expect(tail.result.events.map((e) => Number(e.seq))).toEqual(
      Array.from({ length: last - latestSeq }, (_, i) => latestSeq + 1 + i),
    );
    expect(tail.result).toMatchObject({ nextAfterSeq: last, lastSeq: last });
    const starts = consumerStarts(tail.requests);
    expect(starts.length).toBeLessThanOrEqual(1);
    for (const start of starts) expect(start).toBeGreaterThan(3 + 2 * lastCompactionBatch);
    expect(directGets(tail.requests).length).toBeLessThanOrEqual(seekBound(streamLength));
    // Still not cached there: a cold read that pages on stays a slice read.
    await expect(cold.getEvents(id, { afterSeq: last })).resolves.toMatchObject({ events: [], nextAfterSeq: last });
  }, 60_000);

  it("counts usage and cost once however often an append is retried", async () => {
    await using nats = await startNatsServer();
    await using writer = await startStore(nats.url);
    const id = "retried";
    await writer.createSession({ sessionId: id, config: testConfig() });
    const batch = [spanEvent(100, 20, 0.25), userMessage("after the request")];
    const first = await writer.appendEvents(id, 1, batch);
    await writer.appendEvents(id, 3, [spanEvent(1, 2, 0.5), statusEvent(RunState.IDLE, StopReason.END_TURN)]);
    // The retries of a writer whose ack was lost: stale expected_last_seq, this
    // replica and one that never read the log (answered after loading it).
    expect((await writer.appendEvents(id, 1, batch)).events).toEqual(first.events);
    await using other = await startStore(nats.url);
    expect((await other.appendEvents(id, 1, batch)).events.map((e) => e.seq)).toEqual([2n, 3n]);

    const totals = { usage: { inputTokens: 101n, outputTokens: 22n }, costUsd: 0.75, modelRequests: 2, lastSeq: 5n };
    expect(await writer.getSession(id)).toMatchObject(totals);
    await using fresh = await startStore(nats.url);
    expect(await fresh.getSession(id)).toMatchObject(totals);
    expect((await fresh.listSessions({})).sessions.find((s) => s.sessionId === id)).toMatchObject(totals);
  });

  it("heals an index write lost between the append and the index update with a read of what it lacks", async () => {
    await using nats = await startNatsServer();
    const id = "crashed";
    {
      await using writer = await startStore(nats.url, { maxEventsPerSecond: 0 });
      await writer.createSession({ sessionId: id, config: testConfig() });
      let last = 1;
      for (let j = 0; j < 30; j++) {
        const batch = Array.from({ length: 99 }, (_, k) => userMessage(`${j}.${k}`));
        batch.push(j === 29 ? statusEvent(RunState.IDLE, StopReason.END_TURN) : spanEvent(10, 1, 0.01));
        last = (await writer.appendEvents(id, last, batch)).lastSeq;
      }
    } // closed: its index entry is at seq 3001

    // Two appends that reached the log but whose index writes died with their
    // writer: published as the store publishes them, fenced, with no index write.
    const nc = await connect({ servers: nats.url });
    const lost = [
      [spanEvent(1_000, 100, 1), compactionEvent(1, 3_001, "summary")],
      [userMessage("after"), spanEvent(2_000, 200, 2)],
    ];
    const lostStreamSeqs: number[] = [];
    try {
      const js = nc.jetstream();
      const jsm = await nc.jetstreamManager();
      let seq = 3_001;
      for (const events of lost) {
        const { seq: lastStreamSeq } = await jsm.streams.getMessage(stream, { last_by_subj: `reins.events.${id}` });
        const stored = events.map((e, i) => ({ ...e, seq: BigInt(seq + 1 + i), time: timestampFromMs(Date.now()) }));
        const ack = await js.publish(`reins.events.${id}`, encodeBatch(stored), {
          expect: { lastSubjectSequence: lastStreamSeq },
        });
        lostStreamSeqs.push(ack.seq);
        seq += events.length;
      }
    } finally {
      await nc.close();
    }

    await using api = await watchJetStreamApi(nats.url);
    {
      await using reader = await startStore(nats.url);
      const read = await api.during(stream, () => reader.getSession(id));
      expect(read.result).toMatchObject({
        lastSeq: 3_005n,
        usage: { inputTokens: 3_290n, outputTokens: 329n },
        costUsd: expect.closeTo(29 * 0.01 + 3, 9),
        modelRequests: 31,
      });
      expect(read.result.latestEvents).toContainEqual(
        expect.objectContaining({ type: EventType.AGENT_CONTEXT_COMPACTED, seq: 3_003n }),
      );
      // Read: the last batch, the seek to the first lost one, and the batches from there.
      for (const start of consumerStarts(read.requests)) expect(start).toBeGreaterThan(lostStreamSeqs[0] as number);
      expect(directGets(read.requests).length).toBeLessThanOrEqual(seekBound(32));
      const latest = await reader.getLatestEvent(id, EventType.AGENT_CONTEXT_COMPACTED);
      expect(latest.event?.id).toBe(lost[0]?.[1]?.id);
    } // closing writes the healed entry

    await using next = await startStore(nats.url);
    const healed = (await next.listSessions({})).sessions.find((s) => s.sessionId === id);
    expect(healed).toMatchObject({ lastSeq: 3_005n, modelRequests: 31, usage: { inputTokens: 3_290n } });
    const again = await api.during(stream, () => next.getSession(id));
    expect(again.requests).toHaveLength(1); // the entry is at the log's end: nothing to fold
  }, 60_000);

  it("refuses a type that is not one, and hides other tenants' sessions as for every read", async () => {
    await using nats = await startNatsServer();
    await using writer = await startStore(nats.url);
    await using cold = await startStore(nats.url);
    const grants = [
      { token: "client-a-0123456789", role: "client", tenant: "a" },
      { token: "client-b-0123456789", role: "client", tenant: "b" },
    ];
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => ({ code: -1, message: "succeeded" }),
        (e: unknown) => ({ code: ConnectError.from(e).code, message: ConnectError.from(e).rawMessage }),
      );
    const a = clientWithToken(writer, grants, "client-a-0123456789");
    await a.createSession({ sessionId: "mine", config: testConfig() });
    for (const type of [EventType.UNSPECIFIED, 99 as EventType]) {
      expect(await failure(a.getLatestEvent({ sessionId: "mine", type }))).toEqual({
        code: Code.InvalidArgument,
        message: expect.stringMatching(
          new RegExp(
            `^type = ${type} is not an event type; one of 1 \\(session\\.created\\), .*10 \\(agent\\.context_compacted\\)(, |$)`,
          ),
        ),
      });
    }
    expect(await failure(a.getLatestEvent({ sessionId: "bad.id", type: EventType.USER_MESSAGE }))).toMatchObject({
      code: Code.InvalidArgument,
    });
    const created = await a.getLatestEvent({ sessionId: "mine", type: EventType.SESSION_CREATED });
    expect(created).toMatchObject({ lastSeq: 1n, event: { seq: 1n, payload: { case: "sessionCreated" } } });

    const hidden = { code: Code.NotFound, message: 'session "mine" not found' };
    for (const store of [writer, cold]) {
      const b = clientWithToken(store, grants, "client-b-0123456789");
      expect(await failure(b.getLatestEvent({ sessionId: "mine", type: EventType.SESSION_CREATED }))).toEqual(hidden);
      expect(await failure(b.getEvents({ sessionId: "mine", afterSeq: 1n }))).toEqual(hidden);
      expect(await failure(b.getLatestEvent({ sessionId: "none", type: EventType.SESSION_CREATED }))).toEqual({
        code: Code.NotFound,
        message: 'session "none" not found',
      });
    }
    expect(
      await failure(
        a.createSession({ sessionId: "odd", config: { model: "claude-test", contextPolicy: { threshold: 1.5 } } }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining("context_policy.threshold 1.5") });
  });
});
