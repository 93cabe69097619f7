import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@reins/launch";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../dist/main.js", import.meta.url));
let stateDir: string;

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`build the CLI first (pnpm --filter @reins/cli build): ${cli} is missing`);
  stateDir = await mkdtemp(path.join(tmpdir(), "reins-cli-args-"));
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

/** Runs the built CLI with a clean environment: no stack, no colour unless asked. */
function reins(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, [cli, ...args], {
    reject: false,
    extendEnv: false,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, REINS_STATE_DIR: stateDir, ...env },
    stdin: "ignore",
  });
}

const noStack = (text: string) => expect(text).not.toMatch(/^\s+at /m);

describe("reins arguments and exit codes", () => {
  it("--help prints usage, commands, examples and exit codes, and exits 0", async () => {
    const r = await reins(["--help"]);
    expect(r.exitCode).toBe(0);
    for (const word of ["up", "run", "sessions", "events", "wake", "interrupt", "down", "Examples:", "Exit status"]) {
      expect(r.stdout).toContain(word);
    }
  });

  it("every command has help with examples", async () => {
    for (const command of [
      "up",
      "run",
      "send",
      "sessions",
      "events",
      "wake",
      "interrupt",
      "delete",
      "tools",
      "executors",
      "executors drain",
      "executors undrain",
      "status",
      "down",
    ]) {
      const r = await reins([...command.split(" "), "--help"]);
      expect(r.exitCode, command).toBe(0);
      expect(r.stdout, command).toContain("Example");
    }
  });

  it("no command prints help on stderr and exits 2", async () => {
    const r = await reins([]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("Usage: reins");
    expect(r.stdout).toBe("");
  });

  it.each([
    [["bogus"], /unknown command 'bogus'/],
    [["sessions", "--bogus"], /unknown option '--bogus'/],
    [["events"], /missing required argument 'session-id'/],
    [["events", "bad.id"], /session ids are 1-64 characters/],
    [["events", "s1", "--type", "agent.nope", "--session-url", "127.0.0.1:1"], /unknown event type "agent.nope"/],
    [["sessions", "--limit", "x"], /expected a whole number/],
    [["sessions", "--limit", "0"], /must be at least 1/],
    [["sessions", "--state", "sleeping"], /expected running, rescheduling, idle or terminated/],
    [["run"], /missing required argument .task./],
    [["send", "s1"], /missing required argument .message./],
    [["delete", "ok", "bad.id"], /session ids are 1-64 characters/],
    [["run", "--max-turns", "-3", "task"], /expected a whole number|unknown option/],
    [["run", "--wall-time", "soon", "task"], /expected a duration/],
    [["up", "--images", "huge"], /Allowed choices are full, tiny, none/],
    [["sessions", "--session-url", "ftp:/x"], /invalid session URL/],
  ])("usage error %j exits 2 with one clear line", async (args, message) => {
    const r = await reins(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
    noStack(r.stderr);
  });

  it("up refuses a metrics port in use, or a malformed metrics address, before it starts anything", async () => {
    const held = net.createServer();
    await new Promise<void>((resolve) => held.listen(0, "127.0.0.1", resolve));
    try {
      const heldPort = (held.address() as net.AddressInfo).port;
      const ports = ["--nats-port", "--executor-port", "--session-port", "--harness-port"];
      const args = [
        "up",
        "--no-docker",
        ...(await Promise.all(ports.map(async (p) => [p, String(await freePort())]))).flat(),
      ];
      const inUse = await reins(args, { REINS_HARNESS_METRICS_LISTEN: `127.0.0.1:${heldPort}` });
      expect(inUse.exitCode).toBe(1);
      expect(inUse.stderr).toContain(`port ${heldPort} (harness metrics) is already in use`);
      expect(inUse.stderr).toContain("REINS_HARNESS_METRICS_LISTEN");
      const malformed = await reins(args, { REINS_SESSION_METRICS_LISTEN: "everywhere" });
      expect(malformed.exitCode).toBe(2);
      expect(malformed.stderr).toMatch(/REINS_SESSION_METRICS_LISTEN: invalid listen address "everywhere"/);
      noStack(malformed.stderr);
    } finally {
      await new Promise((resolve) => held.close(resolve));
    }
  });

  it("an unreachable service is one line with the gRPC code and a hint, exit 1", async () => {
    const port = await freePort();
    const r = await reins(["sessions", "--session-url", `127.0.0.1:${port}`]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^error: UNAVAILABLE: .*ECONNREFUSED.*127\\.0\\.0\\.1:${port}.*reins up`));
    noStack(r.stderr);
  });

  it("REINS_SESSION_URL is honoured like --session-url", async () => {
    const port = await freePort();
    const r = await reins(["events", "s1"], { REINS_SESSION_URL: `http://127.0.0.1:${port}` });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
  });

  it("colour only when forced or on a terminal; NO_COLOR wins", async () => {
    const port = await freePort();
    const args = ["sessions", "--session-url", `127.0.0.1:${port}`];
    expect((await reins(args)).stderr).not.toContain("\x1b[");
    expect((await reins(args, { FORCE_COLOR: "1" })).stderr).toContain("\x1b[");
    expect((await reins(args, { FORCE_COLOR: "1", NO_COLOR: "1" })).stderr).not.toContain("\x1b[");
    expect((await reins([...args, "--no-color"], { FORCE_COLOR: "1" })).stderr).not.toContain("\x1b[");
  });

  it("status without a stack exits 1; down without a stack is a no-op", async () => {
    const status = await reins(["status"]);
    expect(status.exitCode).toBe(1);
    expect(status.stderr).toContain("no stack is running");
    const down = await reins(["down"]);
    expect(down.exitCode).toBe(0);
    expect(down.stderr).toContain("no stack is running");
  });
});
