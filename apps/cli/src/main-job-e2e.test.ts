import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "@reins/launch";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAlive } from "./stack/processes.js";
import type { StackState } from "./stack/state-file.js";

// The main job without a model key: `reins up` starts the bundled scripted
// model, which writes a Python program, runs it in real sandbox containers and
// reports what it printed.
const cli = `${repoRoot}apps/cli/dist/main.js`;
const task = "write a Python script that prints the first 10 primes, run it, report the output";
let stateDir: string;

function reins(args: string[]) {
  return execa(process.execPath, [cli, ...args], {
    reject: false,
    extendEnv: false,
    // No ANTHROPIC_* here: that is what selects the scripted model.
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REINS_STATE_DIR: stateDir,
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    },
    stdin: "ignore",
  });
}

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`build the CLI first: ${cli} is missing`);
  stateDir = await mkdtemp(path.join(tmpdir(), "reins-cli-main-job-"));
});

afterAll(async () => {
  if (stateDir && existsSync(path.join(stateDir, "stack.json"))) {
    const list = await reins(["sessions", "--json", "--limit", "1000"]);
    const ids = list.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { sessionId: string }).sessionId);
    if (ids.length > 0) await reins(["delete", ...ids]);
    await reins(["down"]);
  }
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
}, 120_000);

describe("the main job with the scripted model", () => {
  it("up starts the scripted model when no ANTHROPIC_* is set; run does the task in real containers", async () => {
    const up = await reins(["up", "--detach", "--free-ports"]);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^model\s+http:\S+\s+\d+\s+SERVING$/m);
    expect(up.stderr).toContain("scripted model");

    const run = await reins(["run", task]);
    expect(run.exitCode, run.stderr).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/^● reins-scripted · bash, python, read_file, write_file, list_files$/m);
    expect(out).toContain(`› ${task}`);
    expect(out).toContain("⏺ write_file  path=main.py\n  ┆ def first_primes(n):");
    expect(out).toMatch(/✔ write_file · ok · exit 0 · .*\n {2}│ wrote \d+ bytes to main\.py/);
    expect(out).toContain("⏺ bash  python3 main.py\n⏺ list_files");
    expect(out).toContain("│ 2 3 5 7 11 13 17 19 23 29");
    expect(out).toContain("It printed:\n\n```\n2 3 5 7 11 13 17 19 23 29\n```");
    expect(out).toMatch(/✔ end_turn · 3 model requests · /);
  }, 240_000);

  it("down stops the scripted model with the rest", async () => {
    const state = JSON.parse(await readFile(path.join(stateDir, "stack.json"), "utf8")) as StackState;
    expect(state.services.map((s) => s.name)).toEqual(["nats", "model", "session", "executor", "harness", "console"]);
    const ids = (await reins(["sessions", "--json"])).stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { sessionId: string }).sessionId);
    expect((await reins(["delete", ...ids])).exitCode).toBe(0);
    const down = await reins(["down"]);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stderr).toMatch(
      /harness stopped[\s\S]*executor stopped[\s\S]*session stopped[\s\S]*model stopped[\s\S]*nats stopped/,
    );
    for (const service of state.services) expect(isAlive(service.pid), service.name).toBe(false);
  }, 120_000);
});
