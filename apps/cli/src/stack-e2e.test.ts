import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "@reins/launch";
import { type FakeAnthropic, type FakeReply, lastToolResults, lastUserText, startFakeAnthropic } from "@reins/testkit";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAlive } from "./stack/processes.js";
import type { StackState } from "./stack/state-file.js";

// `reins up --detach`, `reins run`, `reins down` as a user runs them: the built
// CLI starting real daemons, nats-server and Docker containers, with the real
// Anthropic SDK talking to the fake Messages API.
const cli = `${repoRoot}apps/cli/dist/main.js`;
const primesProgram = [
  "primes = []",
  "n = 2",
  "while len(primes) < 10:",
  "    if all(n % p for p in primes):",
  "        primes.append(n)",
  "    n += 1",
  "print(primes)",
].join("\n");

let stateDir: string;
let fake: FakeAnthropic;
let releaseHold: () => void = () => {};
// A "[live]" task answers only once the test opens this gate.
let openGate: () => void = () => {};
const gate = new Promise<void>((resolve) => (openGate = resolve));

// The model, by task: "[hold]" tasks stream a little and then wait (to be
// interrupted); the others call python once and then report.
async function script(request: Parameters<Parameters<typeof startFakeAnthropic>[0]["script"]>[0]): Promise<FakeReply> {
  const messages = (request.body?.messages ?? []) as Array<{ role: string; content: unknown }>;
  const first = messages[0];
  const task = typeof first?.content === "string" ? first.content : JSON.stringify(first?.content ?? "");
  if (task.includes("[live]")) {
    await gate;
    return {
      content: [{ type: "text", text: "Live words from the model" }],
      hold: new Promise<void>((r) => (releaseHold = r)),
    };
  }
  if (task.includes("[hold]")) {
    return {
      content: [{ type: "text", text: "Thinking about it for a long time..." }],
      hold: new Promise<void>((r) => (releaseHold = r)),
    };
  }
  const results = lastToolResults(request.body);
  if (results.length === 0 && lastUserText(request.body) !== "") {
    return {
      content: [
        { type: "text", text: "I'll compute them in Python.\n" },
        { type: "tool_use", name: "python", input: { code: primesProgram } },
      ],
      chunkDelayMs: 5,
    };
  }
  return {
    content: [{ type: "text", text: `The sandbox printed: ${results[0]?.content.trim() ?? "nothing"}` }],
    chunkDelayMs: 5,
  };
}

function reins(args: string[], extra: Record<string, string> = {}) {
  return execa(process.execPath, [cli, ...args], {
    reject: false,
    extendEnv: false,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REINS_STATE_DIR: stateDir,
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
      ...extra,
    },
    stdin: "ignore",
  });
}

async function readState(): Promise<StackState> {
  return JSON.parse(await readFile(path.join(stateDir, "stack.json"), "utf8")) as StackState;
}

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`build the CLI first: ${cli} is missing`);
  stateDir = await mkdtemp(path.join(tmpdir(), "reins-cli-e2e-"));
  fake = await startFakeAnthropic({ script, apiKey: "test-key" });
}, 60_000);

afterAll(async () => {
  openGate();
  releaseHold();
  // Whatever happened, nothing this test started may outlive it: workspaces
  // included, which outlive the executor by design.
  if (stateDir && existsSync(path.join(stateDir, "stack.json"))) {
    const list = await reins(["sessions", "--json", "--limit", "1000"]);
    const ids = list.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { sessionId: string }).sessionId);
    if (ids.length > 0) await reins(["delete", ...ids]);
    await reins(["down"]);
  }
  await fake?.close();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
}, 120_000);

describe("reins up --detach, run, down", () => {
  it("up --detach starts every service and reports them SERVING", async () => {
    const up = await reins(["up", "--detach", "--free-ports", "--metrics"], {
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_API_KEY: "test-key",
    });
    expect(up.exitCode, up.stderr).toBe(0);
    for (const service of ["nats", "executor", "session", "harness", "console"]) {
      expect(up.stdout).toMatch(new RegExp(`^${service}\\s+\\S+\\s+\\d+\\s+SERVING$`, "m"));
    }
    expect(up.stdout).toMatch(/^docker\s+\S+\s+-\s+engine /m);
    const state = await readState();
    expect(state.services.map((s) => s.name)).toEqual(["nats", "session", "executor", "harness", "console"]);
    expect((await reins(["status"])).exitCode).toBe(0);

    // The stack's executor registered itself with the session service.
    const executors = await reins(["executors", "--json"]);
    expect(executors.exitCode, executors.stderr).toBe(0);
    const listed = executors.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string; address: string; draining?: boolean });
    expect(listed).toEqual([
      expect.objectContaining({ address: state.services.find((s) => s.name === "executor")?.url, capacity: 8 }),
    ]);
    // Free ports: the id carries a suffix, as stacks may share one engine.
    expect(listed[0]?.id).toMatch(/^local-[0-9a-f]{6}$/);
    // --metrics: a table of where each daemon serves Prometheus metrics, and they are there.
    for (const service of ["executor", "session", "harness"]) {
      const url = state.services.find((s) => s.name === service)?.metricsUrl;
      expect(url, service).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(up.stdout).toMatch(new RegExp(`^${service}\\s+${(url as string).replace(/\./g, "\\.")}$`, "m"));
      const metrics = await (await fetch(url as string)).text();
      expect(metrics, service).toContain("# TYPE reins_rpc_requests_total counter");
    }
  }, 180_000);

  it("up serves the web console, pointed at the stack's services, whose CORS allow its origin", async () => {
    const { services } = await readState();
    const url = (name: string) => services.find((s) => s.name === name)?.url ?? "";
    const consoleUrl = url("console");
    const config = (await (await fetch(`${consoleUrl}/config.json`)).json()) as Record<string, string>;
    expect(config).toEqual({ sessionUrl: url("session"), harnessUrl: url("harness") });
    for (const service of [url("session"), url("harness")]) {
      const preflight = await fetch(`${service}/grpc.health.v1.Health/Check`, {
        method: "OPTIONS",
        headers: { origin: consoleUrl, "access-control-request-method": "POST" },
      });
      expect(preflight.headers.get("access-control-allow-origin"), service).toBe(consoleUrl);
    }
  });

  it("run streams the session: text, the python call and its real output, usage and cost", async () => {
    const run = await reins(["run", "print the first 10 primes"]);
    expect(run.exitCode, run.stderr).toBe(0);
    const out = run.stdout;
    expect(out).toContain("› print the first 10 primes");
    expect(out).toContain("I'll compute them in Python.");
    expect(out).toContain("⏺ python\n  ┆ primes = []\n  ┆ n = 2\n");
    expect(out).toMatch(/✔ python · ok · exit 0 · \d/);
    expect(out).toContain("│ [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]");
    expect(out).toContain("The sandbox printed: [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]");
    expect(out).toMatch(/✔ end_turn · 2 model requests · [\d,]+ in · [\d,]+ out.* · \$[\d.]+ · /);
    // The model got the container's real output as the tool result.
    const second = fake.answered().at(-1);
    expect(lastToolResults(second?.body)[0]?.content).toContain("[2, 3, 5, 7, 11, 13, 17, 19, 23, 29]");

    const sessions = await reins(["sessions"]);
    expect(sessions.stdout).toMatch(/\sidle\s+end_turn\s+print the first 10 primes\s/);
  }, 120_000);

  it("tools lists the catalog through the harness; send continues the session", async () => {
    const tools = await reins(["tools"]);
    expect(tools.exitCode, tools.stderr).toBe(0);
    expect(tools.stdout).toMatch(/^python\s+executor\s/m);

    const last = await reins(["sessions", "--json", "--limit", "1"]);
    const { sessionId } = JSON.parse(last.stdout) as { sessionId: string };
    const send = await reins(["send", sessionId, "once more"]);
    expect(send.exitCode, send.stderr).toBe(0);
    expect(send.stdout).toContain("› once more");
    expect(send.stdout).toContain("│ [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]");
    expect(send.stdout).toMatch(/✔ end_turn · 4 model requests/);
  }, 120_000);

  it("run --json prints NDJSON ending with the session summary", async () => {
    const run = await reins([
      "run",
      "--json",
      "--no-tools",
      "--model",
      "claude-test-model",
      "--system",
      "Be brief.",
      "--max-turns",
      "3",
      "print the first 10 primes",
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    // The options reached the model request.
    const sent = fake.answered().at(-1)?.body;
    expect(sent?.model).toBe("claude-test-model");
    expect(JSON.stringify(sent?.system)).toContain("Be brief.");
    expect(sent?.tools ?? []).toEqual([]);
    const items = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string });
    const types = items.map((i) => i.type);
    expect(types[0]).toBe("session.created");
    expect(types).toContain("text.delta");
    expect(types).toContain("agent.message");
    expect(types.at(-1)).toBe("session");
    expect(items.at(-1)).toMatchObject({ state: "RUN_STATE_IDLE", stopReason: "STOP_REASON_END_TURN" });
  }, 120_000);

  it("Ctrl-C during run interrupts the session and exits 130", async () => {
    const before = fake.requests.length;
    const child = reins(["run", "--no-tools", "[hold] think forever"]);
    await fake.waitForRequests(before + 1, 30_000);
    child.kill("SIGINT");
    const run = await child;
    expect(run.exitCode, run.stderr).toBe(130);
    expect(run.stdout).toContain("■ interrupted");
    expect(run.stdout).toMatch(/■ interrupted: Ctrl-C in reins\n[\s\S]*■ interrupted · \d+ model requests? · /);
    const sessions = await reins(["sessions", "--json", "--limit", "1"]);
    expect(JSON.parse(sessions.stdout)).toMatchObject({
      state: "RUN_STATE_IDLE",
      stopReason: "STOP_REASON_INTERRUPTED",
    });
  }, 120_000);

  it("watch replays a settled session; watches a running one live; interrupt stops it", async () => {
    const settled = await reins(["sessions", "--json"]);
    const doneId = settled.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { sessionId: string; stopReason?: string })
      .find((s) => s.stopReason === "STOP_REASON_END_TURN")?.sessionId as string;
    const woke = await reins(["wake", doneId]);
    expect(woke.exitCode, woke.stderr).toBe(0);
    expect(woke.stdout).toMatch(new RegExp(`^woke ${doneId} \\(log at seq \\d+\\)`));
    const replay = await reins(["watch", doneId]);
    expect(replay.exitCode, replay.stderr).toBe(0);
    expect(replay.stdout).toContain("› print the first 10 primes");

    const before = fake.requests.length;
    const run = reins(["run", "--no-tools", "[live] think about it"]);
    await fake.waitForRequests(before + 1, 30_000);
    const active = await reins(["sessions", "--json", "--state", "running", "--limit", "1"]);
    const { sessionId } = JSON.parse(active.stdout) as { sessionId: string };
    const watch = execa(process.execPath, [cli, "watch", sessionId], {
      reject: false,
      extendEnv: false,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, REINS_STATE_DIR: stateDir },
      stdin: "ignore",
      buffer: false,
    });
    try {
      const seen = { text: "" };
      let check = () => {};
      watch.stdout.on("data", (chunk) => {
        seen.text += String(chunk);
        check();
      });
      const waitFor = (text: string) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`watch never showed ${JSON.stringify(text)}:\n${seen.text}`)),
            30_000,
          );
          check = () => {
            if (!seen.text.includes(text)) return;
            clearTimeout(timer);
            resolve();
          };
          check();
        });
      // The replay reached the user message, so the live subscription is in place.
      await waitFor("› [live] think about it");
      openGate();
      // Live text arrives over NATS while the model is still answering (the
      // fake holds its answer after the first piece).
      await waitFor("Live words");
      expect(seen.text).not.toContain("from the model");
      watch.kill("SIGINT");
      const watched = await watch;
      expect(watched.exitCode).toBe(130);
    } finally {
      watch.kill("SIGKILL");
    }
    // Leaving the watch did not stop the session; interrupt does.
    const interrupt = await reins(["interrupt", sessionId, "--reason", "enough"]);
    expect(interrupt.exitCode, interrupt.stderr).toBe(0);
    expect(interrupt.stdout).toMatch(/^interrupted \S+ \(user\.interrupt at seq \d+\)$/m);
    const ran = await run;
    expect(ran.exitCode).toBe(130);
    expect(ran.stdout).toContain("■ interrupted: enough");
  }, 120_000);

  it("delete removes every session with its workspace", async () => {
    const list = await reins(["sessions", "--json"]);
    const ids = list.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { sessionId: string }).sessionId);
    expect(ids).toHaveLength(4);
    const del = await reins(["delete", ...ids]);
    expect(del.exitCode, del.stderr).toBe(0);
    // The tool-using session had a workspace; the --no-tools ones did not.
    expect(del.stdout).toMatch(/✔ \S+ {2}workspace removed, \d+ events purged/);
    expect(del.stdout).toMatch(/✔ \S+ {2}no workspace, \d+ events purged/);
    const after = await reins(["sessions"]);
    expect(after.stderr).toContain("no sessions yet");
    const again = await reins(["delete", ids[0] as string]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/NOT_FOUND/);
  }, 120_000);

  it("down stops every process of the stack and removes the state file", async () => {
    const state = await readState();
    const down = await reins(["down"]);
    expect(down.exitCode, down.stderr).toBe(0);
    for (const service of state.services) expect(isAlive(service.pid), service.name).toBe(false);
    expect(existsSync(path.join(stateDir, "stack.json"))).toBe(false);
    expect((await reins(["status"])).exitCode).toBe(1);
  }, 120_000);
});
