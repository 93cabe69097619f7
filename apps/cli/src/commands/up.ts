import { type Command, Option } from "commander";
import { ExitCode } from "../cli-error.js";
import type { CliContext } from "../context.js";
import { onInterrupt } from "../interrupts.js";
import { parseCount } from "../options.js";
import { createProgress } from "../render/progress.js";
import { renderStatusTable } from "../render/status-table.js";
import { stopDockerEngine } from "../stack/docker-engine.js";
import { stackHealth } from "../stack/health.js";
import type { StackPaths } from "../stack/paths.js";
import { processStartTime } from "../stack/processes.js";
import { type StartedStack, startStack, stateOf, stopProcesses } from "../stack/stack-up.js";
import { removeState, writeState } from "../stack/state-file.js";

interface UpOptions {
  detach?: boolean;
  freePorts?: boolean;
  natsPort: number;
  executorPort: number;
  sessionPort: number;
  harnessPort: number;
  docker: boolean;
  images: "full" | "tiny" | "none";
  keepDocker?: boolean;
}

export function registerUp(program: Command, ctx: CliContext): void {
  program
    .command("up")
    .description("start nats-server, check Docker, and start the executor, session and harness daemons")
    .option(
      "-d, --detach",
      "start the stack, print its status and exit, leaving it running (stop it with `reins down`)",
    )
    .option("--free-ports", "put every service on a free port instead of 4222/7001/7002/7003")
    .option("--nats-port <port>", "nats-server client port", parseCount, 4222)
    .option("--executor-port <port>", "executor port", parseCount, 7003)
    .option("--session-port <port>", "session service port", parseCount, 7001)
    .option("--harness-port <port>", "harness port", parseCount, 7002)
    .addOption(
      new Option("--images <which>", "sandbox images to build if missing: full (python3), tiny (busybox) or none")
        .choices(["full", "tiny", "none"])
        .default("full"),
    )
    .option("--no-docker", "skip the Docker check and image build (tool calls then fail with an error result)")
    .option("--keep-docker", "leave a Docker engine this command started running on exit")
    .addHelpText(
      "after",
      `
Logs, the NATS store, the executor token and the state file live in the state
directory (--state-dir, REINS_STATE_DIR, default <repo>/.reins). Every daemon gets
only the environment it needs: the harness gets ANTHROPIC_* variables (with
ANTHROPIC_API_KEY it talks to Claude), the executor never does.

Examples:
  $ reins up                      # foreground; Ctrl-C stops everything in reverse order
  $ reins up --detach --free-ports && reins run "..." ; reins down`,
    )
    .action(async (options: UpOptions, command: Command) => {
      process.exitCode = await up(ctx, command, options);
    });
}

async function up(ctx: CliContext, command: Command, options: UpOptions): Promise<number> {
  const paths = ctx.paths(command);
  const progress = createProgress(ctx.terminal);
  const abort = new AbortController();
  // Until the stack is up, Ctrl-C aborts the start (which cleans up after itself).
  const removeHandlers = onInterrupt(
    () => abort.abort(),
    () => abort.abort(),
  );
  const free = options.freePorts === true;
  let stack: StartedStack;
  try {
    stack = await startStack({
      paths,
      ports: {
        nats: free ? 0 : options.natsPort,
        executor: free ? 0 : options.executorPort,
        session: free ? 0 : options.sessionPort,
        harness: free ? 0 : options.harnessPort,
      },
      docker: options.docker,
      images: options.images,
      env: ctx.env,
      progress,
      signal: abort.signal,
    });
  } finally {
    removeHandlers();
  }

  const detached = options.detach === true;
  const state = stateOf(
    stack,
    paths,
    detached ? undefined : { pid: process.pid, startTime: processStartTime(process.pid) },
  );
  await writeState(paths.stateFile, state);
  const table = renderStatusTable(await stackHealth(state), ctx.terminal.colors);
  ctx.terminal.print();
  for (const line of table) ctx.terminal.print(line);
  ctx.terminal.print();

  if (detached) {
    for (const p of stack.processes) p.child.unref();
    ctx.terminal.note(`Stack running; logs in ${paths.logDir}. Stop it with: reins down`);
    return ExitCode.ok;
  }
  ctx.terminal.note(`Logs in ${paths.logDir}. Press Ctrl-C to stop.`);
  return waitAndStop(ctx, stack, paths, options.keepDocker === true);
}

/**
 * Runs until Ctrl-C / SIGTERM (exit 130) or until a process dies on its own
 * (exit 1), then stops everything in reverse start order.
 */
async function waitAndStop(
  ctx: CliContext,
  stack: StartedStack,
  paths: StackPaths,
  keepDocker: boolean,
): Promise<number> {
  const progress = createProgress(ctx.terminal);
  let removeHandlers = () => {};
  const reason = await new Promise<{ code: number; message: string }>((resolve) => {
    // A second Ctrl-C while stopping is ignored: stopping in order is the point.
    removeHandlers = onInterrupt(
      () => resolve({ code: ExitCode.interrupted, message: "stopping the stack" }),
      () => {},
    );
    for (const p of stack.processes) {
      void p.exited.then((how) =>
        resolve({
          code: ExitCode.failure,
          message: `${p.name} ${how} unexpectedly (log: ${p.logFile}); stopping the stack`,
        }),
      );
    }
  });
  ctx.terminal.note(
    reason.code === ExitCode.interrupted
      ? ctx.terminal.errColors.dim(reason.message)
      : ctx.terminal.errColors.red(reason.message),
  );
  await stopProcesses(stack.processes, progress);
  if (stack.docker?.startedByUs && !keepDocker) {
    await progress.step(
      "stopping the private Docker engine",
      () => stopDockerEngine(),
      () => "private Docker engine stopped",
    );
  }
  await removeState(paths.stateFile);
  removeHandlers();
  return reason.code;
}
