import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { connectDocker, dockerCleanup, repoRoot, sandboxImages } from "@reins/testkit";
import type Docker from "dockerode";
import { type Catalog, parseCatalog } from "../catalog/index.js";
import { createExecutor, type Executor, type ExecutorOptions } from "../executor.js";

/** The image these tests run (they expect busybox): built in a second by scripts/build-images.sh --tiny-only. */
export const tinyImage = sandboxImages.tiny;

/** The daemon's default catalog, on the tiny image. */
export function defaultCatalog(): Catalog {
  const text = readFileSync(`${repoRoot}apps/executor/tools.yaml`, "utf8");
  return parseCatalog(text, "apps/executor/tools.yaml", { image: tinyImage });
}

/** A small catalog for limit tests: `sh` runs a command; limits are tight and set per test. */
export function shCatalog(limits: Record<string, unknown> = {}, pool: Record<string, number> = {}): Catalog {
  const doc = {
    defaults: { image: tinyImage, timeout: 10, memory: "64m", pids: 64, ...limits },
    pool: { size: 1, ...pool },
    tools: [
      {
        name: "sh",
        description: "Run a shell command.",
        input_schema: {
          type: "object",
          properties: { command: { type: "string" } },
          required: ["command"],
          additionalProperties: false,
        },
        command: { argv: ["sh", "-c", "{{command}}"] },
      },
      {
        name: "stdin",
        description: "Runs a command that reads data on stdin.",
        input_schema: {
          type: "object",
          properties: { command: { type: "string" }, data: { type: "string" } },
          required: ["command", "data"],
        },
        command: { argv: ["sh", "-c", "{{command}}"], stdin: "{{data}}" },
      },
    ],
  };
  return parseCatalog(JSON.stringify(doc), "test catalog");
}

export interface TestExecutor extends AsyncDisposable {
  readonly executor: Executor;
  readonly docker: Docker;
  readonly label: string;
  /** Where the executor keeps its workspaces' image files. */
  readonly workspaceDir: string;
  /** Runs a tool with an object input. */
  run(name: string, input: Record<string, unknown>, sessionId?: string): ReturnType<Executor["execute"]>;
}

/**
 * An executor on the shared test engine with a unique daemon id and its own workspace
 * directory; disposing it closes it and removes anything still carrying its label
 * (workspace loop devices and images included), even after a failure.
 */
export async function startTestExecutor(
  catalog: Catalog,
  options: Partial<ExecutorOptions> & { skipStart?: boolean } = {},
): Promise<TestExecutor> {
  const docker = options.docker ?? connectDocker();
  const daemonId = options.daemonId ?? `test-${randomBytes(4).toString("hex")}`;
  const workspaceDir = options.workspaceDir ?? (await mkdtemp(path.join(tmpdir(), "reins-ws-test-")));
  const executor = createExecutor({ docker, catalog, daemonId, workspaceDir, ...options });
  const cleanup = dockerCleanup(docker, executor.label);
  if (!options.skipStart) await executor.start();
  return {
    executor,
    docker,
    label: executor.label,
    workspaceDir,
    run: (name, input, sessionId) => executor.execute({ name, inputJson: JSON.stringify(input), sessionId }),
    async [Symbol.asyncDispose]() {
      try {
        await executor.close(1_000);
      } finally {
        await Promise.resolve(cleanup[Symbol.asyncDispose]()).catch((err: { code?: string }) => {
          // An engine that cannot be reached holds nothing of ours.
          if (err.code !== "ENOENT" && err.code !== "ECONNREFUSED") throw err;
        });
        if (!options.workspaceDir) await rm(workspaceDir, { recursive: true, force: true });
      }
    },
  };
}
