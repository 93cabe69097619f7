import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type AgentConfigSchema, type Event, RunState, type SessionPlaced, StopReason } from "@reins/proto";
import {
  assistantTurns,
  connectDocker,
  type FakeScript,
  type FakeTurn,
  listLabelledVolumes,
  repoRoot,
} from "@reins/testkit";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { type ExecutorFleet, startExecutorFleet } from "./support/executor-fleet.js";
import { lastStatus } from "./support/session-status.js";

// Sessions placed on a fleet of three executor daemons on one Docker engine, by
// harnesses in registry mode: they spread, survive a host SIGKILLed under them
// (the model reads that the host and its workspace were lost, and the session
// goes on elsewhere), keep off a draining host while its running calls finish,
// honour label selectors, and keep their host across harness replicas.

const config = { model: "claude-test", systemPrompt: "Be brief.", tools: ["sh"] };
const fleetOf = (...ids: string[]) => ids.map((id) => ({ id }));

/** `calls` tool calls that each print the host they ran on, then end_turn; a call named in `sleeps` sleeps that long. */
function hostScript(calls: number, sleeps: Readonly<Record<number, number>> = {}): FakeScript {
  return (request) => {
    const n = assistantTurns(request.body);
    if (n >= calls) return { content: [{ type: "text", text: `Done after ${n} calls.` }] };
    const turn: FakeTurn = {
      content: [
        {
          type: "tool_use",
          id: `toolu_${n + 1}`,
          name: "sh",
          input: { command: `echo host=$SANDBOX_HOST call=${n + 1}; sleep ${sleeps[n + 1] ?? 0.2}` },
        },
      ],
    };
    return turn;
  };
}

// Which session a request is for: the message it was started with.
function firstUserText(body: { messages?: unknown } | undefined): string {
  const content = Array.isArray(body?.messages) ? (body.messages[0] as { content?: unknown })?.content : undefined;
  if (typeof content === "string") return content;
  const text = Array.isArray(content) ? content.find((b: { type?: string }) => b?.type === "text") : undefined;
  return (text as { text?: string } | undefined)?.text ?? "";
}

const placements = (events: readonly Event[]): SessionPlaced[] =>
  events.flatMap((e) => (e.payload.case === "sessionPlaced" ? [e.payload.value] : []));
const results = (events: readonly Event[]) =>
  events.flatMap((e) => (e.payload.case === "agentToolResult" ? [e.payload.value] : []));
const hostOf = (output: string) => /host=([\w-]+)/.exec(output)?.[1];

async function start(
  fleet: ExecutorFleet,
  message = "go",
  extra: Omit<MessageInitShape<typeof AgentConfigSchema>, "$typeName"> = {},
) {
  return (await fleet.harnessClient().startSession({ config: { ...config, ...extra }, message })).sessionId;
}

/** Resolves once `count` containers of executor `id` have started (engine events since `sinceSec`). */
async function containersStarted(id: string, count: number, sinceSec: number): Promise<void> {
  const stream = (await connectDocker().getEvents({
    since: sinceSec,
    filters: { type: ["container"], event: ["start"], label: [`reins.executor=${id}`] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (chunk: Buffer) => {
      seen += chunk
        .toString()
        .split("\n")
        .filter((line) => line.trim() !== "").length;
      if (seen >= count) resolve();
    });
    stream.once("error", reject);
  }).finally(() => stream.destroy());
}

describe("placement on an executor fleet", { timeout: 180_000 }, () => {
  it("spreads sessions over three executors and records each placement before the call it routes", async () => {
    await using fleet = await startExecutorFleet({
      executors: fleetOf("exec-a", "exec-b", "exec-c"),
      script: hostScript(2),
    });
    const ids = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => start(fleet, `go ${i}`)));
    const logs = await Promise.all(ids.map((id) => fleet.settled(id)));
    const used = new Set<string>();
    for (const events of logs) {
      expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
      const placed = placements(events);
      expect(placed).toHaveLength(1);
      const [first] = placed as [SessionPlaced];
      expect(first).toMatchObject({ previousExecutorId: "", reason: "first call" });
      expect(first.executorAddress).toBe(fleet.executor(first.executorId).daemon.url);
      used.add(first.executorId);
      // Every call ran on the placed host, and the placement came after its intent and before its result.
      expect(results(events).map((r) => hostOf(r.output))).toEqual([first.executorId, first.executorId]);
      const kinds = events.map((e) => e.payload.case);
      expect(kinds.indexOf("agentToolUseStarted")).toBeLessThan(kinds.indexOf("sessionPlaced"));
      expect(kinds.indexOf("sessionPlaced")).toBeLessThan(kinds.indexOf("agentToolResult"));
    }
    expect([...used].sort()).toEqual(["exec-a", "exec-b", "exec-c"]);
  });

  it("SIGKILL of a host mid-call and between calls: those calls say the host and its workspace were lost, the sessions go on elsewhere", async () => {
    const sinceSec = Math.floor(Date.now() / 1000) - 1;
    const killed = new Map<string, string>(); // session message -> executor killed under it
    let fleet: ExecutorFleet | undefined;
    const base = hostScript(3, { 2: 60 });
    const between = hostScript(3);
    // "between": its host is killed while the model thinks about the first result.
    const script: FakeScript = async (request) => {
      if (firstUserText(request.body) !== "between") return base(request);
      if (assistantTurns(request.body) === 1 && !killed.has("between") && fleet) {
        const id = [...sessionsByMessage].find(([, m]) => m === "between")?.[0] as string;
        const placed = placements(await fleet.events(id)).at(-1) as SessionPlaced;
        killed.set("between", placed.executorId);
        await fleet.kill(placed.executorId);
      }
      return between(request);
    };
    const sessionsByMessage = new Map<string, string>();
    await using started = await startExecutorFleet({
      executors: fleetOf("exec-a", "exec-b", "exec-c"),
      script,
    });
    fleet = started;

    // "mid-call": its host is killed while its second call (a long sleep) runs there.
    const midCall = await start(started, "mid-call");
    sessionsByMessage.set(midCall, "mid-call");
    const onHost = placements([
      await started.waitFor(midCall, (e) => e.payload.case === "sessionPlaced"),
    ])[0] as SessionPlaced;
    await started.waitFor(
      midCall,
      (e) => e.payload.case === "agentToolUseStarted" && e.payload.value.toolUseId === "toolu_2",
    );
    // Its second container: the long call is running on the host.
    await containersStarted(onHost.executorId, 2, sinceSec);
    killed.set("mid-call", onHost.executorId);
    await started.kill(onHost.executorId);
    const midEvents = await started.settled(midCall);

    // "between" starts on one of the two executors left.
    const betweenId = await start(started, "between");
    sessionsByMessage.set(betweenId, "between");
    const betweenEvents = await started.settled(betweenId);

    for (const [events, name, outcome] of [
      [midEvents, "mid-call", /may or may not have run \(its outcome is unknown\)/],
      [betweenEvents, "between", /sh did not run/],
    ] as const) {
      const lost = killed.get(name) as string;
      expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
      const [first, second, ...more] = placements(events);
      expect(more).toEqual([]);
      expect(first?.executorId).toBe(lost);
      expect(second).toMatchObject({ previousExecutorId: lost });
      expect(second?.reason).toMatch(new RegExp(`^executor ${lost} was lost: `));
      expect(second?.executorId).not.toBe(lost);
      const [r1, r2, r3] = results(events);
      expect(hostOf(r1?.output ?? "")).toBe(lost);
      expect(r2?.isError).toBe(true);
      expect(r2?.output).toContain(`the sandbox host ${lost} and its workspace were lost`);
      expect(r2?.output).toMatch(outcome);
      // The call after the loss ran on the new host.
      expect(hostOf(r3?.output ?? "")).toBe(second?.executorId);
    }
    expect(killed.get("between")).not.toBe(killed.get("mid-call"));
  });

  it("a host dead but still listed: a new session's refused first call runs on another host, with no loss to report", async () => {
    // A TTL longer than the test: the registry lists the killed host throughout.
    await using fleet = await startExecutorFleet({
      executors: fleetOf("exec-a", "exec-b", "exec-c"),
      script: hostScript(1),
      ttlMs: 120_000,
    });
    await fleet.kill("exec-a");
    expect((await fleet.registry.listExecutors({})).executors.map((e) => e.id)).toContain("exec-a");
    // exec-a, idle and first by id, is what placement would choose.
    const id = await start(fleet, "go");
    const events = await fleet.settled(id);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    const [result, ...others] = results(events);
    expect(others).toEqual([]);
    expect(result?.isError).toBe(false);
    expect(result?.output).not.toContain("were lost");
    const placed = placements(events);
    expect(placed.map((p) => p.executorId)).not.toContain("exec-a");
    expect(placed).toHaveLength(1);
    expect(hostOf(result?.output ?? "")).toBe(placed[0]?.executorId);

    // A replica that has not seen exec-a fail, for a session that brings its tool definitions
    // (no catalog read): placed on exec-a, refused before the call started, moved, run elsewhere.
    const replica = await fleet.startHarness();
    const definitions = [
      {
        name: "sh",
        description: "Run a shell command.",
        inputSchemaJson: '{"type":"object","properties":{"command":{"type":"string"}}}',
      },
    ];
    const moved = (
      await fleet
        .harnessClient(replica)
        .startSession({ config: { ...config, toolDefinitions: definitions }, message: "go" })
    ).sessionId;
    const movedEvents = await fleet.settled(moved);
    expect(lastStatus(movedEvents)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    const [first, second, ...more] = placements(movedEvents);
    expect(more).toEqual([]);
    expect(first?.executorId).toBe("exec-a");
    expect(second?.previousExecutorId).toBe("exec-a");
    expect(second?.reason).toMatch(/^executor exec-a was lost: it refused the session's first call/);
    const [ran, ...rest] = results(movedEvents);
    expect(rest).toEqual([]);
    expect(ran?.isError).toBe(false);
    expect(hostOf(ran?.output ?? "")).toBe(second?.executorId);
  });

  it("a draining host takes no new session; the call it is running finishes and its session stays there", async () => {
    await using fleet = await startExecutorFleet({
      executors: fleetOf("exec-a", "exec-b", "exec-c"),
      script: hostScript(2, { 1: 3 }),
      // The drain must show at the next placement, not one cache window later.
      harnessEnv: { REINS_HARNESS_PLACEMENT_CACHE_MS: "0" },
    });
    const sinceSec = Math.floor(Date.now() / 1000) - 1;
    const first = await start(fleet, "first");
    const onHost = placements([
      await fleet.waitFor(first, (e) => e.payload.case === "sessionPlaced"),
    ])[0] as SessionPlaced;
    await containersStarted(onHost.executorId, 1, sinceSec);
    const drained = await fleet.registry.drainExecutor({ id: onHost.executorId, draining: true });
    expect(drained.executor?.draining).toBe(true);

    const later = await Promise.all([1, 2, 3, 4].map((i) => start(fleet, `later ${i}`)));
    const firstEvents = await fleet.settled(first);
    const laterLogs = await Promise.all(later.map((id) => fleet.settled(id)));

    expect(lastStatus(firstEvents)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(placements(firstEvents).map((p) => p.executorId)).toEqual([onHost.executorId]);
    // Its running call finished there, and its next call went there too (its workspace is there).
    expect(results(firstEvents).map((r) => [r.isError, hostOf(r.output)])).toEqual([
      [false, onHost.executorId],
      [false, onHost.executorId],
    ]);
    for (const events of laterLogs) {
      const placed = placements(events);
      expect(placed).toHaveLength(1);
      expect(placed[0]?.executorId).not.toBe(onHost.executorId);
    }
  });

  it("places sessions with an executor_selector only on executors carrying its labels, and refuses one nothing matches", async () => {
    await using fleet = await startExecutorFleet({
      executors: [
        { id: "exec-a", labels: { zone: "one" } },
        { id: "exec-b", labels: { zone: "two" } },
        { id: "exec-c", labels: { zone: "two", gpu: "true" } },
      ],
      script: hostScript(1),
    });
    const ids = await Promise.all(
      [1, 2, 3, 4].map((i) => start(fleet, `zone two ${i}`, { executorSelector: { zone: "two" } })),
    );
    const gpu = await start(fleet, "gpu", { executorSelector: { gpu: "true" } });
    for (const id of ids) {
      const [placed] = placements(await fleet.settled(id));
      expect(["exec-b", "exec-c"]).toContain(placed?.executorId);
    }
    expect(placements(await fleet.settled(gpu)).map((p) => p.executorId)).toEqual(["exec-c"]);

    const refused = await start(fleet, "x", { executorSelector: { zone: "three" } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((refused as ConnectError).rawMessage).toContain("carries the labels zone=three");
    const missing = await start(fleet, "x", { tools: ["sh", "python"] }).catch((e: unknown) => e);
    expect((missing as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((missing as ConnectError).rawMessage).toContain('no live executor has the tools "sh", "python"');
    const bad = await start(fleet, "x", { executorSelector: { "bad key": "v" } }).catch((e: unknown) => e);
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect((bad as ConnectError).rawMessage).toContain('config.executor_selector key "bad key" is invalid');
  });

  it("another harness replica continues a placed session on the same executor", async () => {
    let fleet: ExecutorFleet | undefined;
    const base = hostScript(3);
    let killedHarness = false;
    let sessionId: string | undefined;
    // The first harness dies while the model works on the first call's result.
    const script: FakeScript = async (request) => {
      if (assistantTurns(request.body) === 1 && !killedHarness && fleet && sessionId) {
        killedHarness = true;
        // The request goes out before its results are appended: the kill waits for them to be in the log.
        const id = sessionId;
        await fleet.waitFor(id, (e) => e.payload.case === "agentToolResult");
        await fleet.harnesses()[0]?.kill("SIGKILL");
      }
      return base(request);
    };
    await using started = await startExecutorFleet({ executors: fleetOf("exec-a", "exec-b", "exec-c"), script });
    fleet = started;
    const id = await start(started);
    sessionId = id;
    const placed = placements([
      await started.waitFor(id, (e) => e.payload.case === "sessionPlaced"),
    ])[0] as SessionPlaced;
    await started.harnesses()[0]?.exited;
    const replica = await started.startHarness();
    await started.harnessClient(replica).wake({ sessionId: id });
    const events = await started.settled(id, 0n);
    expect(killedHarness).toBe(true);
    expect(lastStatus(events)).toEqual([RunState.IDLE, StopReason.END_TURN]);
    expect(placements(events).map((p) => p.executorId)).toEqual([placed.executorId]);
    expect(results(events).map((r) => hostOf(r.output))).toEqual([
      placed.executorId,
      placed.executorId,
      placed.executorId,
    ]);
  });

  it("reins delete removes the workspace on the executor the session is placed on", async () => {
    const script: FakeScript = (request) =>
      assistantTurns(request.body) === 0
        ? {
            content: [
              {
                type: "tool_use",
                id: "toolu_ws",
                name: "ws",
                input: { command: "echo kept > /workspace/f; echo host=$SANDBOX_HOST" },
              },
            ],
          }
        : { content: [{ type: "text", text: "Written." }] };
    await using fleet = await startExecutorFleet({ executors: fleetOf("exec-a", "exec-b", "exec-c"), script });
    const id = await start(fleet, "write", { tools: ["ws"] });
    const events = await fleet.settled(id);
    const [placed] = placements(events);
    expect(hostOf(results(events)[0]?.output ?? "")).toBe(placed?.executorId);
    const volumes = () => listLabelledVolumes(connectDocker(), `reins.executor.workspace=${id}`);
    expect(await volumes()).toHaveLength(1);

    const cli = await execa(
      process.execPath,
      [`${repoRoot}apps/cli/dist/main.js`, "delete", id, "--session-url", fleet.session.url],
      {
        reject: false,
        extendEnv: false,
        env: {
          PATH: process.env.PATH,
          REINS_STATE_DIR: "/nonexistent-reins-state",
          REINS_EXECUTOR_TOKEN: fleet.executorToken,
        },
        stdin: "ignore",
      },
    );
    expect(cli.stderr).toBe("");
    expect(cli.exitCode).toBe(0);
    expect(cli.stdout).toContain(`workspace removed on ${placed?.executorId}`);
    expect(await volumes()).toEqual([]);
  });
});
