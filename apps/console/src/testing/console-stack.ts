import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { HarnessService, SessionService } from "@reins/proto";
import { createBearerInterceptor } from "@reins/service-kit";
import {
  type CapturedRequest,
  connectDocker,
  type Daemon,
  dockerCleanup,
  type FakeReply,
  freePort,
  lastToolResults,
  lastUserText,
  resolveDockerHost,
  startDaemon,
  startFakeAnthropic,
  startNatsServer,
  testImage,
} from "@reins/testkit";

/** One token per tenant the browser may use, and the harness's own; all at least 16 characters. */
export const tokens = {
  acme: "console-acme-token-7c2e9b4d1f",
  globex: "console-globex-token-3a8f0e6b2d",
  harness: "console-harness-token-5d1b7f3e9a",
} as const;

const grants = [
  { token: tokens.acme, role: "client", tenant: "acme" },
  { token: tokens.globex, role: "client", tenant: "globex" },
  { token: tokens.harness, role: "harness", tenant: "" },
];
const grantsYaml = grants.map((g) => `- {token: ${g.token}, role: ${g.role}, tenant: "${g.tenant}"}`).join("\n");

const catalog = (image: string) => `
defaults:
  image: ${image}
  timeout: 30s
  memory: 64m
  pids: 64
  workspace: none
pool:
  size: 0
tools:
  - name: sh
    description: Run a shell command.
    input_schema:
      type: object
      properties: { command: { type: string } }
      required: [command]
    command: { argv: [sh, -c, "{{command}}"] }
`;

interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Words of the long answer of a "[live]" session, streamed a few at a time. */
export const liveAnswer = Array.from({ length: 40 }, (_, i) => `streamed-word-${i + 1}`).join(" ");

/**
 * Moments of a "[live]" session's second model request that the test decides:
 * the request has arrived (`requested`); its first piece of text is sent when
 * `start` is resolved, the rest when `finish` is.
 */
export interface LiveGates {
  readonly requested: Deferred;
  readonly start: Deferred;
  readonly finish: Deferred;
}

/**
 * The fake model, by the session's task. Any task: one `sh` call echoing a word
 * (`[live]`: ran-in-a-container, `[ask]`: approved-call), then, given its
 * result, "Results: <output>" (`[live]`: the long answer, through the gates).
 * `[slow]`: an answer that stops after its first words until the client goes.
 * `[custom]`: a call of the custom tool `lookup`, then "Results: <output>".
 * A later message gets "You said: <message>".
 */
function script(gates: LiveGates) {
  return async (request: CapturedRequest): Promise<FakeReply> => {
    const messages = (request.body?.messages ?? []) as Array<{ role: string; content: unknown }>;
    const task = JSON.stringify(messages[0]?.content ?? "");
    if (task.includes("[slow]")) {
      return {
        content: [{ type: "text", text: "Working on it slowly, one word at a time." }],
        hold: new Promise(() => {}),
      };
    }
    const results = lastToolResults(request.body);
    if (results.length > 0) {
      if (task.includes("[live]")) {
        gates.requested.resolve();
        await gates.start.promise;
        return { content: [{ type: "text", text: liveAnswer }], hold: () => gates.finish.promise };
      }
      return { content: [{ type: "text", text: `Results: ${results.map((r) => r.content.trim()).join(", ")}` }] };
    }
    if (messages.filter((m) => m.role === "user").length > 1) {
      return { content: [{ type: "text", text: `You said: ${lastUserText(request.body)}` }] };
    }
    if (task.includes("[custom]")) {
      return { content: [{ type: "tool_use", id: "toolu_lookup", name: "lookup", input: { customer: "42" } }] };
    }
    const word = task.includes("[ask]") ? "approved-call" : "ran-in-a-container";
    return {
      content: [
        { type: "text", text: "Let me run that." },
        { type: "tool_use", id: `toolu_${word.replaceAll("-", "_")}`, name: "sh", input: { command: `echo ${word}` } },
      ],
    };
  };
}

/**
 * The session, executor and harness daemons from their dist/ with tokens and
 * tenants on and CORS for the console's origin, nats-server with its monitoring
 * port, the fake Messages API, and the console's own server (apps/console/dist).
 */
export interface ConsoleStack extends AsyncDisposable {
  /** The console in the browser. */
  readonly consoleUrl: string;
  readonly sessionUrl: string;
  readonly harnessUrl: string;
  readonly gates: LiveGates;
  /** Clients as a tenant's user (`tokens.acme`, ...). */
  sessions(token: string): Client<typeof SessionService>;
  harness(token: string): Client<typeof HarnessService>;
  /** Kills the session daemon (SIGKILL) and starts another on its port and NATS. */
  restartSession(): Promise<void>;
  /** How many subscriptions NATS holds for a session's live text: a browser's StreamText is one. */
  textReaders(sessionId: string): Promise<number>;
}

export async function startConsoleStack(): Promise<ConsoleStack> {
  const stops: Array<() => PromiseLike<unknown>> = [];
  const dispose = async () => {
    for (const stop of stops.splice(0).reverse()) await Promise.resolve(stop()).catch(() => undefined);
  };
  try {
    const dir = await mkdtemp(path.join(tmpdir(), "reins-console-"));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const executorId = `console-${process.pid}`;
    const containers = dockerCleanup(connectDocker(), `reins.executor=${executorId}`);
    stops.push(() => containers[Symbol.asyncDispose]());
    await writeFile(path.join(dir, "tools.yaml"), catalog(testImage()));
    const monitorPort = await freePort();
    const nats = await startNatsServer({ args: ["-m", String(monitorPort)] });
    stops.push(() => nats.stop());
    const gates: LiveGates = { requested: deferred(), start: deferred(), finish: deferred() };
    const fake = await startFakeAnthropic({ script: script(gates), apiKey: "test-key" });
    stops.push(() => fake.close());
    // Release whatever the fake still holds, so the stack stops promptly even if a test failed midway.
    stops.push(async () => {
      gates.start.resolve();
      gates.finish.resolve();
    });
    const start = async (app: string, env: Record<string, string>) => {
      const daemon = await startDaemon({ app, env });
      stops.push(() => daemon.kill("SIGTERM"));
      return daemon;
    };
    // The console's origin must be known before the services start: their CORS names it.
    const consolePort = await freePort();
    const consoleOrigin = `http://127.0.0.1:${consolePort}`;
    const executorToken = "console-executor-token-0b9d";
    // A fixed port, so that a restarted session daemon is where the browser and the harness expect it.
    const sessionEnv = {
      REINS_SESSION_LISTEN: `127.0.0.1:${await freePort()}`,
      REINS_NATS_URL: nats.url,
      REINS_SESSION_TOKENS: grantsYaml,
      REINS_SESSION_CORS_ORIGINS: consoleOrigin,
    };
    const [firstSession, executor] = await Promise.all([
      start("session", sessionEnv),
      start("executor", {
        REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
        REINS_EXECUTOR_TOKEN: executorToken,
        REINS_EXECUTOR_ID: executorId,
        REINS_TOOLS_CONFIG: path.join(dir, "tools.yaml"),
        DOCKER_HOST: resolveDockerHost(),
      }),
    ]);
    let session: Daemon = firstSession;
    const harness = await start("harness", {
      REINS_HARNESS_LISTEN: "127.0.0.1:0",
      REINS_HARNESS_TOKENS: grantsYaml,
      REINS_HARNESS_CORS_ORIGINS: consoleOrigin,
      REINS_SESSION_URL: session.url,
      REINS_SESSION_TOKEN: tokens.harness,
      REINS_EXECUTOR_URL: executor.url,
      REINS_EXECUTOR_TOKEN: executorToken,
      REINS_NATS_URL: nats.url,
      REINS_WAKE_MODE: "direct",
      ANTHROPIC_API_KEY: "test-key",
      ANTHROPIC_BASE_URL: fake.url,
    });
    const console_ = await start("console", {
      REINS_CONSOLE_LISTEN: `127.0.0.1:${consolePort}`,
      REINS_CONSOLE_SESSION_URL: session.url,
      REINS_CONSOLE_HARNESS_URL: harness.url,
    });
    const client = <S extends typeof SessionService | typeof HarnessService>(service: S, url: string, token: string) =>
      createClient(service, createGrpcTransport({ baseUrl: url, interceptors: [createBearerInterceptor(token)] }));
    return {
      consoleUrl: console_.url,
      sessionUrl: session.url,
      harnessUrl: harness.url,
      gates,
      sessions: (token) => client(SessionService, session.url, token),
      async restartSession() {
        await session.kill("SIGKILL");
        session = await start("session", sessionEnv);
      },
      harness: (token) => client(HarnessService, harness.url, token),
      async textReaders(sessionId) {
        const res = await fetch(`http://127.0.0.1:${monitorPort}/connz?subs=1`);
        const body = (await res.json()) as { connections?: Array<{ subscriptions_list?: string[] }> };
        const subject = `reins.deltas.${sessionId}`;
        return (body.connections ?? []).flatMap((c) => c.subscriptions_list ?? []).filter((s) => s === subject).length;
      },
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
