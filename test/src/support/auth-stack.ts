import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type Daemon,
  type FakeAnthropic,
  type FakeScript,
  lastUserText,
  type NatsServer,
  resolveDockerHost,
  startDaemon,
  startFakeAnthropic,
  startNatsServer,
} from "@reins/testkit";
import { type RecordingServer, startRecordingServer } from "./secret-api.js";

/** One token per role and tenant; every one is at least 16 characters. */
export const tokens = {
  clientA: "client-a-token-5f1c9e2d7b",
  clientB: "client-b-token-8a3e6d0c4f",
  harness: "harness-token-2b7d4e9a1c",
  operator: "operator-token-6c0f3b8e5d",
} as const;

const grants = [
  { token: tokens.clientA, role: "client", tenant: "tenant-a" },
  { token: tokens.clientB, role: "client", tenant: "tenant-b" },
  { token: tokens.harness, role: "harness", tenant: "" },
  { token: tokens.operator, role: "operator", tenant: "" },
];

// A catalog without a warm pool: these tests never run a tool.
const catalog = `
defaults: { image: reins/sandbox-tiny, timeout: 10s, memory: 64m, pids: 64, workspace: none }
pool: { size: 0 }
tools:
  - name: sh
    description: Run a shell command.
    input_schema: { type: object, properties: { command: { type: string } }, required: [command] }
    command: { argv: [sh, -c, "{{command}}"] }
`;

/** The key the `crm` host tool sends; only the harness's environment holds it. */
export const crmKey = "crm-key-3e8b1f6a0d";

// A credentialed host tool for tenant A's sessions only.
const hostTools = (api: string) => `
tools:
  - name: crm
    description: A customer record from the CRM.
    input_schema: { type: object, properties: { id: { type: string } }, required: [id] }
    url: "${api}/customers/{id}"
    allowed_origins: ["${api}"]
    secret: { env: REINS_TEST_CRM_KEY, header: x-api-key }
    tenants: [tenant-a]
`;

// "Done." to everything, except that a conversation opened with "use crm" first calls the crm tool.
const script: FakeScript = (request) =>
  lastUserText(request.body) === "use crm"
    ? { content: [{ type: "tool_use", id: "toolu_crm", name: "crm", input: { id: "42" } }] }
    : { content: [{ type: "text", text: "Done." }] };

export interface AuthStack extends AsyncDisposable {
  readonly nats: NatsServer;
  readonly fake: FakeAnthropic;
  readonly session: Daemon;
  readonly executor: Daemon;
  readonly harness: Daemon;
  /** The API behind the `crm` host tool. */
  readonly crm: RecordingServer;
  readonly daemons: readonly Daemon[];
  /** A client of `url` presenting `token` (none: no authorization header). */
  client<S extends DescService>(service: S, url: string, token?: string): Client<S>;
}

/**
 * nats-server, the fake Messages API and the three daemons with authentication
 * on: the session service reads its grants from a YAML file
 * (REINS_SESSION_TOKENS_FILE), the harness and executor from inline JSON / YAML
 * in the environment (REINS_HARNESS_TOKENS, REINS_EXECUTOR_TOKENS).
 */
export async function startAuthStack(): Promise<AuthStack> {
  const owned: Array<() => Promise<unknown>> = [];
  const dispose = async () => {
    for (const step of owned.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const dir = await mkdtemp(path.join(tmpdir(), "reins-auth-"));
    owned.push(() => rm(dir, { recursive: true, force: true }));
    const tokensFile = path.join(dir, "session-tokens.yaml");
    await writeFile(
      tokensFile,
      grants.map((g) => `- token: ${g.token}\n  role: ${g.role}\n  tenant: "${g.tenant}"\n`).join(""),
    );
    const toolsFile = path.join(dir, "tools.yaml");
    await writeFile(toolsFile, catalog);
    const crm = await startRecordingServer((req, res) => {
      if (req.headers["x-api-key"] === crmKey) res.writeHead(200).end(`record of ${req.url}`);
      else res.writeHead(401).end("no key");
    });
    owned.push(async () => crm[Symbol.asyncDispose]());
    const hostToolsFile = path.join(dir, "host-tools.yaml");
    await writeFile(hostToolsFile, hostTools(crm.origin));

    const nats = await startNatsServer();
    owned.push(() => nats.stop());
    const fake = await startFakeAnthropic({ script });
    owned.push(() => fake.close());
    const session = await startDaemon({
      app: "session",
      env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url, REINS_SESSION_TOKENS_FILE: tokensFile },
    });
    owned.push(() => session.kill("SIGTERM"));
    const executor = await startDaemon({
      app: "executor",
      env: {
        REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
        // Every role is known to the executor, so the others get PERMISSION_DENIED rather than UNAUTHENTICATED.
        REINS_EXECUTOR_TOKENS: JSON.stringify(grants),
        REINS_TOOLS_CONFIG: toolsFile,
        DOCKER_HOST: resolveDockerHost(),
      },
    });
    owned.push(() => executor.kill("SIGTERM"));
    const harness = await startDaemon({
      app: "harness",
      env: {
        REINS_HARNESS_LISTEN: "127.0.0.1:0",
        REINS_HARNESS_TOKENS: grants
          .map((g) => `- {token: ${g.token}, role: ${g.role}, tenant: "${g.tenant}"}`)
          .join("\n"),
        REINS_SESSION_URL: session.url,
        REINS_SESSION_TOKEN: tokens.harness,
        REINS_EXECUTOR_URL: executor.url,
        REINS_EXECUTOR_TOKEN: tokens.harness,
        REINS_NATS_URL: nats.url,
        ANTHROPIC_API_KEY: "auth-test-key",
        ANTHROPIC_BASE_URL: fake.url,
        REINS_WAKE_MODE: "direct",
        REINS_HOST_TOOLS_CONFIG: hostToolsFile,
        REINS_TEST_CRM_KEY: crmKey,
      },
    });
    owned.push(() => harness.kill("SIGTERM"));

    return {
      nats,
      fake,
      session,
      executor,
      harness,
      crm,
      daemons: [session, executor, harness],
      client: (service, url, token) =>
        createClient(
          service,
          createGrpcTransport({
            baseUrl: url,
            interceptors: token
              ? [
                  (next) => (req) => {
                    req.header.set("authorization", `Bearer ${token}`);
                    return next(req);
                  },
                ]
              : [],
          }),
        ),
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
