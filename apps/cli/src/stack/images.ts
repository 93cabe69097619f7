import { sandboxImages, scriptPath } from "@reins/launch";
import { execa } from "execa";
import { CliError } from "../cli-error.js";
import { hasImage } from "./docker-engine.js";

/**
 * Builds the sandbox images with scripts/build-images.sh, which skips images
 * whose recipe label already matches, so this is cheap when they exist.
 */
export async function ensureSandboxImages(
  options: { dockerHost: string; tinyOnly: boolean; env: NodeJS.ProcessEnv },
  signal?: AbortSignal,
): Promise<string[]> {
  const result = await execa(scriptPath("build-images.sh"), options.tinyOnly ? ["--tiny-only"] : [], {
    env: { ...options.env, DOCKER_HOST: options.dockerHost },
    reject: false,
    stdin: "ignore",
    ...(signal ? { cancelSignal: signal } : {}),
  });
  const messages = result.stderr
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("build-images:"))
    .map((l) =>
      l
        .slice("build-images:".length)
        .replace(/\s*\(recipe [0-9a-f]+\)/, "")
        .trim(),
    );
  if (result.exitCode !== 0) {
    // The script may refuse to even check (e.g. the full image needs root to
    // rebuild): images that exist still serve.
    const wanted = options.tinyOnly ? [sandboxImages.tiny] : [sandboxImages.tiny, sandboxImages.full];
    const present = await Promise.all(wanted.map((name) => hasImage(options.dockerHost, name)));
    if (present.every(Boolean)) {
      const why =
        result.stderr
          .trim()
          .split("\n")
          .pop()
          ?.replace(/^build-images:\s*/, "") ?? "";
      return [`using the existing ${wanted.join(" and ")}; not rebuilt: ${why}`];
    }
    throw new CliError("building the sandbox images failed (scripts/build-images.sh)", 1, {
      details: result.stderr.trim().split("\n").slice(-5),
    });
  }
  return messages;
}
