import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { AgentConfigSchema, LimitsSchema, RunState, type Session, StopReason } from "@reins/proto";
import type { Command } from "commander";
import { uuidv7 } from "uuidv7";
import { CliError, ExitCode, InterruptedError, UsageError } from "../cli-error.js";
import type { CliContext } from "../context.js";
import { describeError } from "../error-line.js";
import { onInterrupt } from "../interrupts.js";
import { deltaJson, eventJson, sessionJson } from "../render/json-lines.js";
import { createRunView, type RunView } from "../render/run-view.js";
import { oneLine } from "../render/truncate.js";
import type { RunOptions } from "./run.js";

// No --tools means every tool the executor offers, as far as the CLI can see
// the catalog (the local stack's executor); otherwise none, said out loud.
async function chooseTools(ctx: CliContext, command: Command, given: string[] | false | undefined): Promise<string[]> {
  if (given === false) return [];
  if (given !== undefined) return given;
  const { catalogToolNames } = await import("./tools-action.js");
  const names = await catalogToolNames(ctx, command);
  if (names === undefined) {
    ctx.terminal.note(
      ctx.terminal.errColors.yellow("! no tools: the executor's catalog is not readable here; pass --tools"),
    );
    return [];
  }
  return names;
}

function readTask(words: string[]): string {
  const text = words.length === 1 && words[0] === "-" ? readFileSync(0, "utf8") : words.join(" ");
  if (!text.trim()) throw new UsageError("the task is empty");
  return text.trim();
}

/** `reins run`: RunSession streamed through the live view; returns the exit code. */
export async function runTask(
  ctx: CliContext,
  command: Command,
  words: string[],
  options: RunOptions,
): Promise<number> {
  const task = readTask(words);
  const { harness, session } = await ctx.clients(command);
  const tools = await chooseTools(ctx, command, options.tools);
  // The id is chosen here, not by the harness: events carry no session id, and
  // the CLI needs it for Interrupt (Ctrl-C) and GetSession (usage) even if the
  // stream breaks early. UUIDv7, as the session service generates.
  const sessionId = options.sessionId ?? uuidv7();
  const config = create(AgentConfigSchema, {
    model: options.model ?? "",
    systemPrompt: options.system ?? "",
    tools,
    maxTokens: options.maxTokens ?? 0,
    limits: create(LimitsSchema, {
      maxTurns: options.maxTurns ?? 0,
      maxTotalTokens: BigInt(options.tokenBudget ?? 0),
      ...(options.wallTime ? { maxWallTime: durationFromMs(options.wallTime) } : {}),
    }),
  });
  const json = options.json === true;
  const view: RunView | undefined = json
    ? undefined
    : createRunView(ctx.terminal, { outputLines: options.outputLines });
  const started = Date.now();
  const abort = new AbortController();
  let interrupted = false;
  const removeHandlers = onInterrupt(
    () => {
      interrupted = true;
      view?.notice("interrupting… (Ctrl-C again to stop waiting)");
      harness.interrupt({ sessionId, reason: "Ctrl-C in reins run" }).catch((err: unknown) => {
        view?.notice(`interrupt failed: ${describeError(err)}`);
        abort.abort();
      });
    },
    () => abort.abort(),
  );

  let state = RunState.UNSPECIFIED;
  let stopReason = StopReason.UNSPECIFIED;
  try {
    const stream = harness.runSession(
      { config, message: task, title: options.title ?? oneLine(task, 80), sessionId },
      { signal: abort.signal },
    );
    for await (const item of stream) {
      if (item.item.case === "delta") {
        if (json) ctx.terminal.print(deltaJson(item.item.value));
        else view?.delta(item.item.value);
      } else if (item.item.case === "event") {
        const event = item.item.value;
        if (event.payload.case === "sessionStatus") {
          state = event.payload.value.state;
          stopReason = event.payload.value.stopReason;
        }
        if (json) ctx.terminal.print(eventJson(event));
        else view?.event(event);
      }
    }
  } catch (err) {
    view?.close();
    if (abort.signal.aborted) throw new InterruptedError(`stopped waiting; session ${sessionId} may still be running`);
    if (err instanceof ConnectError && err.code !== Code.InvalidArgument && state !== RunState.UNSPECIFIED) {
      throw new CliError(
        `${describeError(err)}; the session is in the log: \`reins wake ${sessionId}\` resumes it`,
        ExitCode.failure,
        { cause: err },
      );
    }
    throw err;
  } finally {
    removeHandlers();
  }

  const summary: Session | undefined = await session
    .getSession({ sessionId }, { timeoutMs: 5_000 })
    .then((r) => r.session)
    .catch((err: unknown) => {
      view?.notice(`could not read the session's usage: ${describeError(err)}`);
      return undefined;
    });
  if (json) {
    if (summary) ctx.terminal.print(sessionJson(summary));
  } else {
    view?.finish({ sessionId, state, stopReason, session: summary, elapsedMs: Date.now() - started });
  }
  return exitCodeFor(state, stopReason, interrupted);
}

/** 0 when the agent finished its turn, 130 when interrupted, 1 for errors and limits. */
export function exitCodeFor(state: RunState, reason: StopReason, interrupted: boolean): number {
  if (reason === StopReason.INTERRUPTED || interrupted) return ExitCode.interrupted;
  if (state === RunState.UNSPECIFIED || state === RunState.RUNNING) return ExitCode.failure;
  switch (reason) {
    case StopReason.ERROR:
    case StopReason.MAX_TURNS:
    case StopReason.BUDGET_REACHED:
    case StopReason.REFUSAL:
      return ExitCode.failure;
    default:
      return state === RunState.TERMINATED && reason === StopReason.UNSPECIFIED ? ExitCode.failure : ExitCode.ok;
  }
}
