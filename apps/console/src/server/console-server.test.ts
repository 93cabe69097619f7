import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConsoleConfig } from "./config.js";
import { type ConsoleServer, startConsoleServer } from "./console-server.js";
import { loadStaticSite } from "./static-site.js";

let dir: string;
let server: ConsoleServer;
const index = "<!doctype html><title>console</title>";

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "reins-console-site-"));
  await mkdir(path.join(dir, "assets"));
  await writeFile(path.join(dir, "index.html"), index);
  await writeFile(path.join(dir, "assets", "app-1a2b.js"), "console.log(1)");
  // Outside the web root: no request may reach it.
  await writeFile(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), "file-outside-the-root");
  const config = loadConsoleConfig({
    REINS_CONSOLE_LISTEN: "127.0.0.1:0",
    REINS_CONSOLE_SESSION_URL: "http://127.0.0.1:7001",
    REINS_CONSOLE_HARNESS_URL: "https://harness.example:8443/",
    REINS_CONSOLE_WEB_ROOT: dir,
  });
  server = await startConsoleServer(config, await loadStaticSite(dir));
});

afterAll(async () => {
  await server?.close();
  await rm(`${dir}-secret.txt`, { force: true });
  await rm(dir, { recursive: true, force: true });
});

/** A raw request: the path goes on the wire as written (fetch would normalise it). */
function get(
  target: string,
  method = "GET",
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path: target, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the console's server", () => {
  it("tells the browser where the services are, and lets the page connect only there", async () => {
    const res = await get("/config.json");
    expect(JSON.parse(res.body)).toEqual({
      sessionUrl: "http://127.0.0.1:7001",
      harnessUrl: "https://harness.example:8443",
    });
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain("connect-src 'self' http://127.0.0.1:7001 https://harness.example:8443;");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("default-src 'none'");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("answers every route of the app with the page, so deep links load", async () => {
    for (const route of ["/", "/sessions/abc", "/sessions/abc?x=1"]) {
      const res = await get(route);
      expect(res.status, route).toBe(200);
      expect(res.body).toBe(index);
    }
    const asset = await get("/assets/app-1a2b.js");
    expect(asset.body).toBe("console.log(1)");
    expect(asset.headers["cache-control"]).toContain("immutable");
    expect((await get("/assets/missing.js")).status).toBe(404);
  });

  it("serves nothing outside the built app, however the path is written", async () => {
    const secret = `${path.basename(dir)}-secret.txt`;
    for (const target of [`/../${secret}`, `/assets/../../${secret}`, `/%2e%2e/${secret}`, `/..%2f${secret}`]) {
      const res = await get(target);
      expect(res.body, target).not.toContain("file-outside-the-root");
    }
  });

  it("answers only GET and HEAD, and refuses oversized paths, saying why", async () => {
    const post = await get("/", "POST");
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");
    expect(post.body).toContain("GET and HEAD only");
    const head = await get("/", "HEAD");
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    const long = await get(`/${"a".repeat(3000)}`);
    expect(long.status).toBe(414);
    expect((await get("/%E0%A4%A")).status).toBe(400);
  });
});

describe("loadConsoleConfig", () => {
  it("defaults to loopback and the services' default ports", () => {
    const config = loadConsoleConfig({});
    expect(config.listen).toEqual({ host: "127.0.0.1", port: 7080 });
    expect(config.sessionUrl).toBe("http://127.0.0.1:7001");
    expect(config.harnessUrl).toBe("http://127.0.0.1:7002");
  });

  it.each([
    [{ REINS_CONSOLE_SESSION_URL: "127.0.0.1:7001" }, "REINS_CONSOLE_SESSION_URL"],
    [{ REINS_CONSOLE_HARNESS_URL: "ftp://h:1" }, "must be http or https"],
    [{ REINS_CONSOLE_HARNESS_URL: "http://user:pw@h:1" }, "must not carry credentials"],
    [{ REINS_CONSOLE_LISTEN: "nowhere" }, "invalid listen address"],
  ])("refuses %o, naming what is wrong", (env, message) => {
    expect(() => loadConsoleConfig(env)).toThrow(message);
  });
});
