import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { repoRoot } from "@reins/launch";
import { type Event, RunState, SessionService } from "@reins/proto";
import {
  type CapturedRequest,
  connectDocker,
  dockerCleanup,
  type FakeAnthropic,
  type FakeReply,
  lastToolResults,
  resolveDockerHost,
  startDaemon,
  startFakeAnthropic,
  startNatsServer,
  testImage,
} from "@reins/testkit";
import { execa, type ResultPromise } from "execa";
import { runOnTerminal, type TerminalRun } from "./terminal-run.js";

export const cli = `${repoRoot}apps/cli/dist/main.js`;

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

/**
 * The model, by task: "[two]" asks for two `sh` calls at once (toolu_a echoes
 * first-call, toolu_b second-call), any other task for one (toolu_one echoes
 * ran-in-a-container); given the results, it says "Results:" and one line per
 * call: `<id> ok|error: <content>`.
 */
function script(request: CapturedRequest): FakeReply {
  const results = lastToolResults(request.body);
  if (results.length > 0) {
    const lines = results.map((r) => `${r.toolUseId} ${r.isError ? "error" : "ok"}: ${r.content.trim()}`);
    return { content: [{ type: "text", text: `Results:\n${lines.join("\n")}` }] };
  }
  const messages = (request.body?.messages ?? []) as Array<{ content: unknown }>;
  const task = JSON.stringify(messages[0]?.content ?? "");
  const call = (id: string, words: string) =>
    ({ type: "tool_use", id, name: "sh", input: { command: `echo ${words}` } }) as const;
  return {
    content: task.includes("[two]")
      ? [{ type: "text", text: "Two calls." }, call("toolu_a", "first-call"), call("toolu_b", "second-call")]
      : [{ type: "text", text: "One call." }, call("toolu_one", "ran-in-a-container")],
  };
}

/**
 * The three daemons from their dist/ on a fresh nats-server, the executor's
 * `sh` tool in real containers on the shared Docker engine, the harness on the
 * fake Messages API; and the built CLI pointed at them.
 */
export interface ApprovalStack extends AsyncDisposable {
  readonly fake: FakeAnthropic;
  readonly sessions: Client<typeof SessionService>;
  /** The CLI with a pipe for stdin, stdout and stderr. */
  reins(args: string[]): ResultPromise<{ reject: false; stdin: "ignore" }>;
  /** The CLI on a pseudo-terminal. */
  reinsOnTerminal(args: string[]): TerminalRun;
  /** The whole log once the session settles (idle or terminated) after `afterSeq`. */
  settled(sessionId: string, afterSeq: bigint): Promise<Event[]>;
}

export async function startApprovalStack(): Promise<ApprovalStack> {
  const stops: Array<() => PromiseLike<unknown>> = [];
  // Harness first: nothing may start a container once the executor is gone.
  const dispose = async () => {
    for (const stop of stops.splice(0).reverse()) await Promise.resolve(stop()).catch(() => undefined);
  };
  try {
    const dir = await mkdtemp(path.join(tmpdir(), "reins-cli-approve-"));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const executorId = `cli-approve-${process.pid}`;
    const containers = dockerCleanup(connectDocker(), `reins.executor=${executorId}`);
    stops.push(() => containers[Symbol.asyncDispose]());
    await writeFile(path.join(dir, "tools.yaml"), catalog(testImage()));
    const nats = await startNatsServer();
    stops.push(() => nats.stop());
    const fake = await startFakeAnthropic({ script, apiKey: "test-key" });
    stops.push(() => fake.close());
    const start = async (app: string, env: Record<string, string>) => {
      const daemon = await startDaemon({ app, env });
      stops.push(() => daemon.kill("SIGTERM"));
      return daemon;
    };
    const token = "cli-approve-executor-token";
    const [session, executor] = await Promise.all([
      start("session", { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url }),
      start("executor", {
        REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
        REINS_EXECUTOR_TOKEN: token,
        REINS_EXECUTOR_ID: executorId,
        REINS_TOOLS_CONFIG: path.join(dir, "tools.yaml"),
        DOCKER_HOST: resolveDockerHost(),
      }),
    ]);
    const harness = await start("harness", {
      REINS_HARNESS_LISTEN: "127.0.0.1:0",
      REINS_SESSION_URL: session.url,
      REINS_EXECUTOR_URL: executor.url,
      REINS_EXECUTOR_TOKEN: token,
      REINS_NATS_URL: nats.url,
      REINS_WAKE_MODE: "direct",
      ANTHROPIC_API_KEY: "test-key",
      ANTHROPIC_BASE_URL: fake.url,
    });
    const sessions = createClient(SessionService, createGrpcTransport({ baseUrl: session.url }));
    const argv = (args: string[]) => [cli, "--harness-url", harness.url, "--session-url", session.url, ...args];
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, REINS_STATE_DIR: dir, NO_COLOR: "1" };
    return {
      fake,
      sessions,
      reins: (args) =>
        execa(process.execPath, argv(args), { reject: false, extendEnv: false, env, stdin: "ignore" as const }),
      reinsOnTerminal: (args) => runOnTerminal([process.execPath, ...argv(args)], env),
      async settled(sessionId, afterSeq) {
        const leave = new AbortController();
        const signal = AbortSignal.any([leave.signal, AbortSignal.timeout(30_000)]);
        const events: Event[] = [];
        try {
          for await (const { event } of sessions.streamEvents({ sessionId, afterSeq: 0n }, { signal })) {
            if (!event) continue;
            events.push(event);
            const p = event.payload;
            if (event.seq > afterSeq && p.case === "sessionStatus" && p.value.state !== RunState.RUNNING) break;
          }
        } finally {
          leave.abort();
        }
        return events;
      },
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** The tool results of a log. */
export const toolResultsOf = (events: readonly Event[]) =>
  events.flatMap((e) => (e.payload.case === "agentToolResult" ? [e.payload.value] : []));

/** The text of the log's last model answer. */
export function lastAnswerText(events: readonly Event[]): string {
  const message = events.findLast((e) => e.payload.case === "agentMessage")?.payload;
  if (message?.case !== "agentMessage") return "";
  return message.value.content.map((b) => (b.block.case === "text" ? b.block.value.text : "")).join("");
}

/** NDJSON output, parsed. */
export const jsonLines = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
