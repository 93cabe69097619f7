import type Docker from "dockerode";
import type { Catalog } from "../catalog/index.js";
import { CatalogError, toDockerFailure } from "../errors.js";

/** What the engine can run containers under, as `docker info` says. */
export interface EngineRuntimes {
  /** Registered runtimes ("runc", "runsc", ...). */
  readonly names: readonly string[];
  /** The one a container gets when HostConfig.Runtime is empty. */
  readonly defaultRuntime: string;
}

export async function readEngineRuntimes(docker: Docker): Promise<EngineRuntimes> {
  let info: { Runtimes?: Record<string, unknown>; DefaultRuntime?: string };
  try {
    info = await docker.info();
  } catch (err) {
    throw toDockerFailure(err, "asking the engine for its runtimes");
  }
  return { names: Object.keys(info.Runtimes ?? {}).sort(), defaultRuntime: info.DefaultRuntime ?? "runc" };
}

/**
 * Refuses a catalog with a tool whose runtime the engine lacks. Caught at startup, such a tool
 * is a configuration error the operator can fix; left to the first call, every call of it would
 * fail with Docker's "unknown runtime" and the model could do nothing about it.
 */
export function checkCatalogRuntimes(catalog: Catalog, engine: EngineRuntimes, where = "the Docker engine"): void {
  const problems = catalog.tools
    .filter((t) => t.runtime !== undefined && !engine.names.includes(t.runtime))
    .map((t) => `tool ${t.name}: runtime ${JSON.stringify(t.runtime)} is not registered with ${where}`);
  if (problems.length === 0) return;
  throw new CatalogError(
    `${problems.join("\n")}\n(the engine has: ${engine.names.join(", ") || "none"}; register a runtime in its daemon.json, for runsc with scripts/ensure-docker.sh)`,
  );
}
