import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

/** One file of the built app, held in memory. */
export interface SiteFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  /** Vite's hashed assets never change under their name: cached for a year. */
  readonly immutable: boolean;
}

/** The built browser app, read once at start; requests never touch the file system. */
export interface StaticSite {
  /** The file at a URL path, or undefined. */
  file(urlPath: string): SiteFile | undefined;
  /** The app's page, which every client-side route (`/sessions/<id>`) gets. */
  readonly index: SiteFile;
  readonly files: number;
  readonly bytes: number;
}

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

// The built app is a few hundred kilobytes; a root far larger is the wrong directory.
const maxSiteBytes = 64 * 1024 * 1024;

/**
 * Loads every file under `root` into a table keyed by URL path. Serving from
 * the table makes path traversal impossible: a request can only name a key.
 */
export async function loadStaticSite(root: string): Promise<StaticSite> {
  const table = new Map<string, SiteFile>();
  let bytes = 0;
  let names: string[];
  try {
    names = (await readdir(root, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name));
  } catch (err) {
    throw new Error(
      `the console's web root ${root} cannot be read (is apps/console built?): ${(err as Error).message}`,
    );
  }
  for (const file of names) {
    const body = await readFile(file);
    bytes += body.length;
    if (bytes > maxSiteBytes) throw new Error(`the console's web root ${root} holds more than ${maxSiteBytes} bytes`);
    const urlPath = `/${path.relative(root, file).split(path.sep).join("/")}`;
    table.set(urlPath, {
      body,
      type: types[path.extname(file)] ?? "application/octet-stream",
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
      immutable: urlPath.startsWith("/assets/"),
    });
  }
  const index = table.get("/index.html");
  if (!index) throw new Error(`the console's web root ${root} has no index.html (is apps/console built?)`);
  return { file: (urlPath) => table.get(urlPath), index, files: table.size, bytes };
}
