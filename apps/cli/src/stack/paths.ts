import path from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot } from "@reins/launch";

/** The scripted model's process entry, next to this module in dist/. */
export const scriptedModelEntry = fileURLToPath(new URL("../scripted-model/main.js", import.meta.url));

/**
 * Where `reins up` keeps its state file, logs, NATS store and token. The repo's
 * `.reins/` is shared with scripts/ensure-docker.sh (which writes docker-host
 * there); REINS_STATE_DIR moves it, e.g. so tests can run stacks side by side.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.REINS_STATE_DIR || path.join(repoRoot, ".reins"));
}

export interface StackPaths {
  readonly dir: string;
  readonly stateFile: string;
  readonly logDir: string;
  readonly natsStore: string;
  readonly tokenFile: string;
  /** The executor's registration token, when the session service has authentication on. */
  readonly registrationTokenFile: string;
  /** The session service's list of registration tokens ({executor, token}). */
  readonly registrationTokensFile: string;
}

export function stackPaths(dir: string): StackPaths {
  return {
    dir,
    stateFile: path.join(dir, "stack.json"),
    logDir: path.join(dir, "logs"),
    natsStore: path.join(dir, "nats"),
    tokenFile: path.join(dir, "executor.token"),
    registrationTokenFile: path.join(dir, "executor-registration.token"),
    registrationTokensFile: path.join(dir, "executor-registrations.json"),
  };
}
