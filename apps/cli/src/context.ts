import type { Command } from "commander";
import type { Clients } from "./clients.js";
import { defaultStateDir, type StackPaths, stackPaths } from "./stack/paths.js";
import { readState, type StackState } from "./stack/state-file.js";
import { resolveTargets, type Targets } from "./targets.js";
import type { Terminal } from "./terminal.js";

/** Options every command accepts (declared on the root program). */
export interface GlobalOptions {
  harnessUrl?: string;
  sessionUrl?: string;
  executorUrl?: string;
  token?: string;
  stateDir?: string;
}

/** What commands share: the terminal, the environment and the way to the services. */
export interface CliContext {
  readonly terminal: Terminal;
  readonly env: NodeJS.ProcessEnv;
  globals(command: Command): GlobalOptions;
  paths(command: Command): StackPaths;
  /** The running stack's state file, if any. */
  state(command: Command): Promise<StackState | undefined>;
  targets(command: Command): Promise<Targets>;
  clients(command: Command): Promise<Clients>;
}

export function createContext(terminal: Terminal, env: NodeJS.ProcessEnv): CliContext {
  const globals = (command: Command) => command.optsWithGlobals<GlobalOptions>();
  const paths = (command: Command) => stackPaths(globals(command).stateDir || defaultStateDir(env));
  const state = (command: Command) => readState(paths(command).stateFile);
  const targets = async (command: Command) => {
    const options = globals(command);
    // A broken state file must not stop commands given explicit addresses.
    return resolveTargets(options, await state(command).catch(() => undefined), env);
  };
  return {
    terminal,
    env,
    globals,
    paths,
    state,
    targets,
    // Loaded on first use: the gRPC stack is most of the start-up time, and
    // help, usage errors and `reins down` never need it.
    clients: async (command) => (await import("./clients.js")).createClients(await targets(command)),
  };
}
