import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecutorService } from "@reins/proto";
import { createBearerInterceptor } from "@reins/service-kit";
import { connectDocker, type Daemon, dockerCleanup, resolveDockerHost, startDaemon, testImage } from "@reins/testkit";

/** A catalog on the tiny image: `sh` without a workspace, `ws` in the session's workspace. */
export const hostileCatalog = `
defaults:
  image: ${testImage()}
  timeout: 20s
  memory: 64m
  pids: 64
  workspace: none
  max_input_bytes: 64k
  max_output_bytes: 4k
pool:
  size: 0
tools:
  - name: sh
    description: Run a shell command.
    input_schema:
      type: object
      properties: { command: { type: string, minLength: 1 } }
      required: [command]
      additionalProperties: false
    command: { argv: [sh, -c, "{{command}}"] }
  - name: ws
    description: Run a shell command in the session workspace.
    workspace: session
    input_schema:
      type: object
      properties: { command: { type: string, minLength: 1 } }
      required: [command]
      additionalProperties: false
    command: { argv: [sh, -c, "{{command}}"] }
`;

export interface ExecutorDaemon extends AsyncDisposable {
  readonly daemon: Daemon;
  readonly token: string;
  /** `reins.executor=<id>`: on every container and volume this daemon makes. */
  readonly label: string;
  /** A client that sends the token. */
  readonly client: Client<typeof ExecutorService>;
}

/**
 * The built executor daemon on the shared Docker engine with `catalog`, its own id, token
 * and label; disposing it stops the daemon and removes every container and volume it made.
 */
export async function startExecutorDaemon(
  options: { catalog?: string; env?: Record<string, string> } = {},
): Promise<ExecutorDaemon> {
  const id = `hostile-${randomBytes(4).toString("hex")}`;
  const token = randomBytes(16).toString("hex");
  const label = `reins.executor=${id}`;
  const dir = await mkdtemp(path.join(tmpdir(), "reins-hostile-exec-"));
  const cleanup = dockerCleanup(connectDocker(), label);
  try {
    const catalog = path.join(dir, "tools.yaml");
    await writeFile(catalog, options.catalog ?? hostileCatalog);
    const daemon = await startDaemon({
      app: "executor",
      env: {
        REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
        REINS_EXECUTOR_TOKEN: token,
        REINS_EXECUTOR_ID: id,
        REINS_TOOLS_CONFIG: catalog,
        DOCKER_HOST: resolveDockerHost(),
        ...options.env,
      },
    });
    const client = createClient(
      ExecutorService,
      createGrpcTransport({
        baseUrl: daemon.url,
        interceptors: [createBearerInterceptor(token)],
      }),
    );
    return {
      daemon,
      token,
      label,
      client,
      async [Symbol.asyncDispose]() {
        await daemon.kill("SIGTERM");
        await cleanup[Symbol.asyncDispose]();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await cleanup[Symbol.asyncDispose]();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
