import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "@reins/launch";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackState } from "./stack/state-file.js";

// `reins up` with authentication on in the session service: the stack makes its
// executor a registration token, and `reins executors` lists it. No Docker is
// needed to register (tool calls would fail, and none is made).
const cli = `${repoRoot}apps/cli/dist/main.js`;
const operatorToken = `operator-${randomBytes(12).toString("hex")}`;
const harnessToken = `harness-${randomBytes(12).toString("hex")}`;
let stateDir: string;

function reins(args: string[], token?: string) {
  return execa(process.execPath, [cli, "--no-color", ...args], {
    reject: false,
    extendEnv: false,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REINS_STATE_DIR: stateDir,
      REINS_SESSION_TOKENS: JSON.stringify([
        { token: operatorToken, role: "operator" },
        { token: harnessToken, role: "harness" },
      ]),
      REINS_SESSION_TOKEN: harnessToken,
      REINS_EXECUTOR_POOL_SIZE: "0",
      ...(token ? { REINS_TOKEN: token } : {}),
    },
    stdin: "ignore",
  });
}

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`build the CLI first: ${cli} is missing`);
  stateDir = await mkdtemp(path.join(tmpdir(), "reins-cli-registration-"));
});

afterAll(async () => {
  if (stateDir && existsSync(path.join(stateDir, "stack.json"))) await reins(["down"]);
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
}, 60_000);

describe("reins up with an authenticated session service", () => {
  it("gives the executor its own registration token; reins executors lists and drains it", async () => {
    const up = await reins(["up", "--detach", "--free-ports", "--no-docker"]);
    expect(up.exitCode, up.stderr).toBe(0);
    const state = JSON.parse(await readFile(path.join(stateDir, "stack.json"), "utf8")) as StackState;
    expect(state.services.map((s) => s.name)).toEqual(["nats", "model", "session", "executor", "harness", "console"]);

    // The token, bound to the stack's executor id, in files only the user can read.
    const tokenFile = path.join(stateDir, "executor-registration.token");
    const listFile = path.join(stateDir, "executor-registrations.json");
    for (const file of [tokenFile, listFile]) expect((await stat(file)).mode & 0o777).toBe(0o600);
    const [entry] = JSON.parse(await readFile(listFile, "utf8")) as Array<{ executor: string; token: string }>;
    expect(entry?.token).toBe((await readFile(tokenFile, "utf8")).trim());
    expect(entry?.executor).toMatch(/^local-[0-9a-f]{6}$/);

    const list = await reins(["executors", "--json"], operatorToken);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject({
      id: entry?.executor,
      address: state.services.find((s) => s.name === "executor")?.url,
    });
    // The registry is behind the session service's authentication.
    const anonymous = await reins(["executors"]);
    expect([anonymous.exitCode, anonymous.stderr]).toEqual([1, expect.stringMatching(/UNAUTHENTICATED/)]);

    const drain = await reins(["executors", "drain", entry?.executor ?? ""], operatorToken);
    expect(drain.exitCode, drain.stderr).toBe(0);
    expect((await reins(["executors"], operatorToken)).stdout).toMatch(/\sdraining\s/);

    const down = await reins(["down"]);
    expect(down.exitCode, down.stderr).toBe(0);
  }, 120_000);
});
