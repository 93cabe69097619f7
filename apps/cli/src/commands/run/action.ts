import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { AgentConfigSchema, LimitsSchema, PermissionPolicy } from "@reins/proto";
import type { Command } from "commander";
import { uuidv7 } from "uuidv7";
import { UsageError } from "../../cli-error.js";
import type { CliContext } from "../../context.js";
import { oneLine } from "../../render/truncate.js";
import { watchRun } from "../../watch-run.js";
import { settleWaitingCalls } from "./ask.js";

export interface RunOptions {
  model?: string;
  system?: string;
  /** undefined: the whole catalog; false: --no-tools. */
  tools?: string[] | false;
  /** Tools whose every call waits for a confirmation (always_ask). */
  ask?: string[];
  maxTurns?: number;
  maxTokens?: number;
  tokenBudget?: number;
  wallTime?: number;
  title?: string;
  sessionId?: string;
  json?: boolean;
  outputLines: number;
}

// No --tools means every tool the executor offers, as far as the CLI can see
// the catalog (the local stack's executor); otherwise none, said out loud.
async function chooseTools(ctx: CliContext, command: Command, given: string[] | false | undefined): Promise<string[]> {
  if (given === false) return [];
  if (given !== undefined) return given;
  const { catalogToolNames } = await import("../tools/action.js");
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
    toolPermissions: Object.fromEntries((options.ask ?? []).map((name) => [name, PermissionPolicy.ALWAYS_ASK])),
    limits: create(LimitsSchema, {
      maxTurns: options.maxTurns ?? 0,
      maxTotalTokens: BigInt(options.tokenBudget ?? 0),
      ...(options.wallTime ? { maxWallTime: durationFromMs(options.wallTime) } : {}),
    }),
  });
  const code = await watchRun(ctx, {
    sessionId,
    json: options.json === true,
    outputLines: options.outputLines,
    harness,
    session,
    onCtrlC: "interrupt",
    open: async function* (signal) {
      const request = { config, message: task, title: options.title ?? oneLine(task, 80), sessionId };
      for await (const res of harness.runSession(request, { signal })) {
        if (res.item.case === "event" || res.item.case === "delta") yield res.item;
      }
    },
  });
  return settleWaitingCalls(
    ctx,
    { sessionId, json: options.json === true, outputLines: options.outputLines, harness, session },
    code,
  );
}
