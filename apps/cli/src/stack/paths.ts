import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root: this file is apps/cli/{src,dist}/stack/paths.{ts,js},
 * so the root is four levels up either way.
 */
export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

/** `node apps/<app>/dist/main.js` entry of a daemon. */
export function daemonEntry(app: string): string {
  return path.join(repoRoot, "apps", app, "dist", "main.js");
}

/** The scripted model's process entry, next to this module in dist/. */
export const scriptedModelEntry = fileURLToPath(new URL("../scripted-model/main.js", import.meta.url));

export function scriptPath(name: string): string {
  return path.join(repoRoot, "scripts", name);
}

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
}

export function stackPaths(dir: string): StackPaths {
  return {
    dir,
    stateFile: path.join(dir, "stack.json"),
    logDir: path.join(dir, "logs"),
    natsStore: path.join(dir, "nats"),
    tokenFile: path.join(dir, "executor.token"),
  };
}
