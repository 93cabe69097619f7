import type { Command } from "commander";
import { ExitCode } from "../../cli-error.js";
import type { CliContext } from "../../context.js";
import { onInterrupt } from "../../interrupts.js";
import { renderMetricsTable } from "../../render/metrics-table.js";
import { createProgress } from "../../render/progress.js";
import { renderStatusTable } from "../../render/status-table.js";
import { stopDockerEngine } from "../../stack/docker-engine.js";
import { stackHealth } from "../../stack/health.js";
import type { StackPaths } from "../../stack/paths.js";
import { processStartTime } from "../../stack/processes.js";
import { type StartedStack, startStack, stateOf, stopProcesses } from "../../stack/stack-up.js";
import { removeState, writeState } from "../../stack/state-file.js";

export interface UpOptions {
  detach?: boolean;
  freePorts?: boolean;
  natsPort: number;
  executorPort: number;
  sessionPort: number;
  harnessPort: number;
  consolePort: number;
  /** false from --no-console. */
  console: boolean;
  docker: boolean;
  images: "full" | "tiny" | "none";
  keepDocker?: boolean;
  /** true / false from --scripted-model / --no-scripted-model; undefined: automatic. */
  scriptedModel?: boolean;
  /** Print where each daemon serves its Prometheus metrics. */
  metrics?: boolean;
}

/** `reins up`: starts the stack, then waits (foreground) or returns (--detach); returns the exit code. */
export async function upStack(ctx: CliContext, command: Command, options: UpOptions): Promise<number> {
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
        console: free ? 0 : options.consolePort,
      },
      console: options.console,
      docker: options.docker,
      images: options.images,
      scriptedModel: options.scriptedModel,
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
  if (options.metrics === true) {
    for (const line of renderMetricsTable(state.services, ctx.terminal.colors)) ctx.terminal.print(line);
    ctx.terminal.print();
  }

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
