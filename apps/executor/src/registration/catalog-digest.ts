import { createHash } from "node:crypto";
import type { loadCatalog } from "@reins/executor-core";

type Catalog = Awaited<ReturnType<typeof loadCatalog>>;

/**
 * SHA-256 (hex) of what makes two executors' catalogs interchangeable for a
 * session: each tool's name, description, input schema, image, runtime and
 * workspace, in name order. Limits and pool sizes are left out: executors sized
 * differently still run the same tools the same way.
 */
export function catalogDigest(catalog: Catalog): string {
  const tools = [...catalog.tools]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => ({
      name: t.name,
      description: t.description,
      inputSchema: canonical(t.inputSchema),
      image: t.image,
      runtime: t.runtime ?? "",
      workspace: t.workspace,
    }));
  return createHash("sha256").update(JSON.stringify(tools)).digest("hex");
}

// Key order in a YAML file is not part of a schema's meaning.
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
  );
}
