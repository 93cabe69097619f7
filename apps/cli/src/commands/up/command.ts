import { type Command, Option } from "commander";
import type { CliContext } from "../../context.js";
import { parseCount } from "../../options.js";
import type { UpOptions } from "./action.js";

export function registerUp(program: Command, ctx: CliContext): void {
  program
    .command("up")
    .description("start nats-server, check Docker, and start the session, executor and harness daemons")
    .option(
      "-d, --detach",
      "start the stack, print its status and exit, leaving it running (stop it with `reins down`)",
    )
    .option("--free-ports", "put every service on a free port instead of 4222/7001/7002/7003/7080")
    .option("--nats-port <port>", "nats-server client port", parseCount, 4222)
    .option("--executor-port <port>", "executor port", parseCount, 7003)
    .option("--session-port <port>", "session service port", parseCount, 7001)
    .option("--harness-port <port>", "harness port", parseCount, 7002)
    .option("--console-port <port>", "web console port (0: a free one)", parseCount, 7080)
    .option("--no-console", "do not start the web console")
    .addOption(
      new Option(
        "--images <which>",
        "sandbox images to build if missing: full (python3), tiny (busybox, then used for every tool) or none",
      )
        .choices(["full", "tiny", "none"])
        .default("full"),
    )
    .option(
      "--metrics",
      "also print where each daemon serves its Prometheus metrics (REINS_*_METRICS_LISTEN; see deploy/observability)",
    )
    .option("--no-docker", "skip the Docker check and image build (tool calls then fail with an error result)")
    .option("--keep-docker", "leave a Docker engine this command started running on exit")
    .option(
      "--scripted-model",
      "run the harness against the bundled scripted model even when ANTHROPIC_* is set (default: only when it is not)",
    )
    .option("--no-scripted-model", "never start the scripted model (model requests then need ANTHROPIC_API_KEY)")
    .addHelpText(
      "after",
      `
Logs, the NATS store, the executor token and the state file live in the state
directory (--state-dir, REINS_STATE_DIR, default <repo>/.reins).

Each daemon gets PATH, HOME, locale and REINS_LOG_LEVEL plus only its own
variables: the harness ANTHROPIC_* (with ANTHROPIC_API_KEY it talks to Claude;
ANTHROPIC_BASE_URL points it at any compatible endpoint; with neither, at the
bundled scripted model, which writes and runs a Python program for the task in
a real sandbox), REINS_HARNESS_*,
REINS_MODEL_*, REINS_DEFAULT_MODEL; the session service REINS_SESSION_*,
REINS_STREAM_*; the executor REINS_EXECUTOR_*, REINS_TOOLS_CONFIG,
REINS_SANDBOX_IMAGE and DOCKER_HOST; the web console REINS_CONSOLE_*. The
session and harness allow the console's origin in their CORS. Model keys never
reach the executor.

Examples:
  $ reins up                      # foreground; Ctrl-C stops everything in reverse order
  $ reins up --detach --free-ports && reins run "..." ; reins down`,
    )
    .action(async (options: UpOptions, command: Command) => {
      const { upStack } = await import("./action.js");
      process.exitCode = await upStack(ctx, command, options);
    });
}
