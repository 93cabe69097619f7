import type { ErrorObject } from "ajv";

/**
 * Turns ajv errors into one line per failing location, e.g.
 * `tools[1].memory: must be a size` or `command: must be string`, so whoever
 * wrote the document sees what to fix without knowing ajv's vocabulary.
 */
export function formatSchemaErrors(errors: readonly ErrorObject[] | null | undefined, root = "input"): string {
  if (!errors || errors.length === 0) return `${root}: invalid`;
  const byPath = new Map<string, Set<string>>();
  for (const error of errors) {
    // anyOf reports each branch and then itself; the branches are the noise.
    if (
      errors.some((e) => e.keyword === "anyOf" && e.instancePath === error.instancePath) &&
      error.keyword !== "anyOf"
    ) {
      continue;
    }
    let path = pointerToPath(error.instancePath, root);
    let message = error.message ?? "is invalid";
    if (error.keyword === "additionalProperties") {
      const name = (error.params as { additionalProperty: string }).additionalProperty;
      path = joinPath(path, name);
      message = "is not allowed here";
    } else if (error.keyword === "required") {
      const name = (error.params as { missingProperty: string }).missingProperty;
      path = joinPath(path, name);
      message = "is required";
    } else if (error.keyword === "enum") {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      message = `must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}`;
    } else if (error.keyword === "anyOf") {
      message = "has the wrong type or format";
    }
    const messages = byPath.get(path) ?? new Set<string>();
    messages.add(message);
    byPath.set(path, messages);
  }
  return [...byPath].map(([path, messages]) => `${path}: ${[...messages].join("; ")}`).join("\n");
}

function pointerToPath(pointer: string, root: string): string {
  if (pointer === "") return root;
  let path = root;
  for (const raw of pointer.split("/").slice(1)) {
    const part = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    path = joinPath(path, part);
  }
  return path;
}

function joinPath(path: string, part: string): string {
  if (/^\d+$/.test(part)) return `${path}[${part}]`;
  return /^[A-Za-z_$][\w$]*$/.test(part) ? `${path}.${part}` : `${path}[${JSON.stringify(part)}]`;
}
