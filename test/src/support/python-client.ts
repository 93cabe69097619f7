import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "@reins/testkit";
import { execa } from "execa";
import type { Outcome } from "./outcome.js";
import { listProtoFiles, protoRoot } from "./protos.js";

// Debian's interpreter, where python3-grpcio lives (not whatever python3 a venv puts first).
const python = "/usr/bin/python3";
const script = path.join(repoRoot, "test/python/wire_client.py");

export interface PythonCall {
  readonly service: string;
  readonly method: string;
  readonly request?: Record<string, unknown>;
  /** For a bidi method: every message to send (its answers come back as `responses`). */
  readonly requests?: readonly Record<string, unknown>[];
}

export interface PythonJob {
  /** host:port */
  readonly target: string;
  readonly metadata?: readonly (readonly [string, string])[];
  /** Services to health-check ("" is the whole server). */
  readonly health?: readonly string[];
  readonly calls?: readonly PythonCall[];
  /** grpcurl-style: fetch descriptors by reflection, then call a method built from them. */
  readonly reflect?: { readonly symbol: string; readonly call?: Omit<PythonCall, "service"> };
}

export interface PythonResult {
  readonly health: Record<string, string>;
  readonly calls: Outcome[];
  readonly reflect?: {
    readonly services: string[];
    readonly files: string[];
    readonly methods: string[];
    readonly call?: Outcome;
  };
}

export interface PythonClient extends AsyncDisposable {
  run(job: PythonJob): Promise<PythonResult>;
}

/**
 * Generates Python stubs from proto/ into a temp dir and runs test/python/wire_client.py
 * against servers. protoc with grpc_python_plugin (both from Debian, as python3-grpcio's
 * protobuf runtime expects) rather than `python3 -m grpc_tools.protoc`, whose bundled
 * protoc 3.5 predates proto3 `optional`.
 */
export async function createPythonClient(): Promise<PythonClient> {
  const genDir = await mkdtemp(path.join(tmpdir(), "reins-py-stubs-"));
  try {
    await execa(
      "protoc",
      [
        `-I${protoRoot}`,
        `--python_out=${genDir}`,
        `--grpc_out=${genDir}`,
        "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
        ...listProtoFiles(),
      ],
      { cwd: protoRoot },
    );
  } catch (err) {
    await rm(genDir, { recursive: true, force: true });
    throw err;
  }
  return {
    async run(job) {
      const { stdout } = await execa(python, [script], {
        input: JSON.stringify({ ...job, gen_dir: genDir }),
        timeout: 30_000,
      });
      return JSON.parse(stdout) as PythonResult;
    },
    [Symbol.asyncDispose]: () => rm(genDir, { recursive: true, force: true }),
  };
}
