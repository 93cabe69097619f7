import { readdirSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "@reins/testkit";

/** The contracts' source directory: what independent clients build their stubs from. */
export const protoRoot = path.join(repoRoot, "proto");

/** Every .proto file under proto/, relative to it (e.g. "reins/session/v1/session.proto"). */
export function listProtoFiles(): string[] {
  const entries = readdirSync(protoRoot, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".proto"))
    .map((e) => path.relative(protoRoot, path.join(e.parentPath, e.name)))
    .sort();
}
