import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  type Daemon,
  type FakeAnthropic,
  type FakeScript,
  lastUserText,
  type NatsServer,
  testImage,
} from "@reins/testkit";
import { ownedFixture, ownedTempDir, shCatalog, startDaemonStack } from "./daemon-stack.js";
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
const catalog = shCatalog(testImage(), { pool: 0, timeout: "10s" });

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
export function startAuthStack(): Promise<AuthStack> {
  return ownedFixture(async (own) => {
    const dir = await ownedTempDir(own, "reins-auth-");
    const tokensFile = path.join(dir, "session-tokens.yaml");
    await writeFile(
      tokensFile,
      grants.map((g) => `- token: ${g.token}\n  role: ${g.role}\n  tenant: "${g.tenant}"\n`).join(""),
    );
    const crm = own(
      await startRecordingServer((req, res) => {
        if (req.headers["x-api-key"] === crmKey) res.writeHead(200).end(`record of ${req.url}`);
        else res.writeHead(401).end("no key");
      }),
    );
    const hostToolsFile = path.join(dir, "host-tools.yaml");
    await writeFile(hostToolsFile, hostTools(crm.origin));

    const stack = own(
      await startDaemonStack({
        script,
        catalog,
        executorToken: tokens.harness,
        sessionEnv: { REINS_SESSION_TOKENS_FILE: tokensFile },
        executorEnv: {
          REINS_EXECUTOR_TOKEN: undefined,
          // Every role is known to the executor, so the others get PERMISSION_DENIED rather than UNAUTHENTICATED.
          REINS_EXECUTOR_TOKENS: JSON.stringify(grants),
        },
        harnessEnv: {
          REINS_HARNESS_TOKENS: grants
            .map((g) => `- {token: ${g.token}, role: ${g.role}, tenant: "${g.tenant}"}`)
            .join("\n"),
          REINS_SESSION_TOKEN: tokens.harness,
          REINS_WAKE_MODE: "direct",
          REINS_HOST_TOOLS_CONFIG: hostToolsFile,
          REINS_TEST_CRM_KEY: crmKey,
        },
      }),
    );
    return {
      nats: stack.nats as NatsServer,
      fake: stack.fake as FakeAnthropic,
      session: stack.session,
      executor: stack.executor(),
      harness: stack.harness(),
      crm,
      daemons: [...stack.daemons],
      client: stack.client,
    };
  });
}
