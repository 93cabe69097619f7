import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { ToolAbortedError } from "../../errors.js";
import { parseHostToolsConfig } from "./config.js";
import { createHostTools } from "./host-tools.js";

// Real HTTP servers on 127.0.0.1: the API the tool may call, and another origin
// it must never reach. Each records what arrived.

const canary = "canary-host-tools-5d1e";
// Sent as "Token <secret>"; the quote and the slash change in JSON and in a URL.
const bareCanary = 'canary-bare-"q"/9c';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly key: string | undefined;
  readonly body: string;
}

async function startServer(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const seen: Seen[] = [];
  const server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const key = req.headers["x-api-key"];
    seen.push({ method: req.method ?? "", url: req.url ?? "", key: typeof key === "string" ? key : undefined, body });
    handle(req, res, body);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed = false;
  return {
    origin,
    seen,
    async [Symbol.asyncDispose]() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

function api(other: string, partner: string) {
  return startServer((req, res, body) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/whoami") {
      const token = req.headers.authorization?.replace(/^Token /, "") ?? "";
      // The bare secret, as it is, inside JSON, and inside a URL.
      res.writeHead(200).end(`token ${token} ${JSON.stringify({ token })} /next?t=${encodeURIComponent(token)}`);
    } else if (req.headers["x-api-key"] !== canary) {
      res.writeHead(401).end("no key");
    } else if (url.pathname === "/data") {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ data: "forty-two", q: url.search }));
    } else if (url.pathname === "/echo") {
      res.writeHead(200).end(`you sent ${body} with key ${req.headers["x-api-key"]}`);
    } else if (url.pathname === "/broken") {
      res.writeHead(503, "Service Unavailable").end(`down; your key ${canary} is fine`);
    } else if (url.pathname === "/big") {
      res.writeHead(200).end("x".repeat(10_000));
    } else if (url.pathname === "/hang") {
      res.flushHeaders();
    } else if (url.pathname === "/away") {
      res.writeHead(302, { location: `${other}/steal` }).end();
    } else if (url.pathname === "/tail") {
      // The cap (1000 bytes) cuts the echoed key after its first 10 characters.
      res.writeHead(200).end(`${"x".repeat(990)}${canary}`);
    } else if (url.pathname === "/partner") {
      res.writeHead(302, { location: `${partner}/data` }).end();
    } else if (url.pathname === "/moved") {
      res.writeHead(301, { location: "/data" }).end();
    } else {
      res.writeHead(404).end("not found");
    }
  });
}

const config = (origin: string, partner: string) => `
tools:
  - name: fetch
    description: Fetch a path or URL from the API.
    input_schema:
      type: object
      properties: { url: { type: string }, q: { type: string } }
      required: [url]
      additionalProperties: false
    url: "{+url}"
    allowed_origins: ["${origin}", "${partner}"]
    secret: { env: API_KEY, header: x-api-key, origin: "${origin}" }
    timeout_ms: 500
    max_response_bytes: 1000
  - name: post
    description: Post a note.
    method: POST
    input_schema:
      type: object
      properties: { note: { type: string } }
      required: [note]
    url: "${origin}/echo"
    allowed_origins: ["${origin}"]
    secret: { env: API_KEY, header: x-api-key }
    tenants: [acme]
  - name: whoami
    description: Who the API thinks we are.
    input_schema: { type: object }
    url: "${origin}/whoami"
    allowed_origins: ["${origin}"]
    secret: { env: BEARER_KEY, header: authorization, prefix: "Token " }
`;

async function setUp() {
  const attacker = await startServer((_, res) => res.writeHead(200).end("stolen"));
  // Allowed for the fetch tool, but not the origin its secret is for.
  const partner = await startServer((req, res) =>
    res.writeHead(200).end(`partner data; key: ${req.headers["x-api-key"] ?? "none"}`),
  );
  const server = await api(attacker.origin, partner.origin);
  const tools = createHostTools(
    parseHostToolsConfig(config(server.origin, partner.origin), "test", {
      env: { API_KEY: canary, BEARER_KEY: bareCanary },
      readFile: () => "",
    }),
  );
  const call = (name: string, input: unknown, signal?: AbortSignal, tenant = "acme") =>
    tools.execute({ sessionId: "s", toolUseId: "t", name, inputJson: JSON.stringify(input), tenant }, signal);
  return {
    server,
    attacker,
    partner,
    tools,
    call,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await attacker[Symbol.asyncDispose]();
      await partner[Symbol.asyncDispose]();
    },
  };
}

describe("host tools over real HTTP", () => {
  it("sends the secret in its header and returns the response body", async () => {
    await using t = await setUp();
    const outcome = await t.call("fetch", { url: `${t.server.origin}/data`, q: "a b" });
    expect(outcome).toMatchObject({ isError: false, exitCode: 0, truncated: false });
    expect(JSON.parse(outcome.output)).toEqual({ data: "forty-two", q: "?q=a+b" });
    expect(t.server.seen).toEqual([{ method: "GET", url: "/data?q=a+b", key: canary, body: "" }]);
    expect(t.tools.catalog("acme").map((tool) => [tool.name, tool.idempotent])).toEqual([
      ["fetch", false],
      ["post", false],
      ["whoami", false],
    ]);
  });

  it("sends the rest of the input as a JSON body, and scrubs the secret from what comes back", async () => {
    await using t = await setUp();
    const outcome = await t.call("post", { note: "hi" });
    expect(outcome.isError).toBe(false);
    expect(outcome.output).toBe('you sent {"note":"hi"} with key [redacted]');
    expect(t.server.seen[0]).toMatchObject({ method: "POST", key: canary, body: '{"note":"hi"}' });
  });

  it("scrubs the bare secret too, also escaped in JSON or a URL, and a secret cut by the size cap", async () => {
    await using t = await setUp();
    const whoami = await t.call("whoami", {});
    expect(whoami.isError).toBe(false);
    expect(whoami.output).toBe('token [redacted] {"token":"[redacted]"} /next?t=[redacted]');
    const tail = await t.call("fetch", { url: `${t.server.origin}/tail` });
    expect(tail).toMatchObject({ isError: false, truncated: true });
    expect(tail.output).toBe(`${"x".repeat(990)}\n[response truncated at 1000 bytes]`);
  });

  it("sends the secret to its own origin only: another allowed origin gets the request without it", async () => {
    await using t = await setUp();
    const direct = await t.call("fetch", { url: `${t.partner.origin}/data` });
    expect(direct).toMatchObject({ isError: false, output: "partner data; key: none" });
    const redirected = await t.call("fetch", { url: `${t.server.origin}/partner` });
    expect(redirected).toMatchObject({ isError: false, output: "partner data; key: none" });
    expect(t.partner.seen.map((s) => s.key)).toEqual([undefined, undefined]);
    // The hop that went to the secret's origin carried it.
    expect(t.server.seen).toEqual([{ method: "GET", url: "/partner", key: canary, body: "" }]);
  });

  it("refuses an origin that is not allowed before sending anything", async () => {
    await using t = await setUp();
    const outcome = await t.call("fetch", { url: `${t.attacker.origin}/steal` });
    expect(outcome.isError).toBe(true);
    expect(outcome.output).toContain(`fetch may not call ${t.attacker.origin}`);
    expect(outcome.output).toContain("nothing was sent");
    expect(t.attacker.seen).toEqual([]);
    expect(t.server.seen).toEqual([]);
  });

  it("follows a redirect within the allowed origins and refuses one that leaves them", async () => {
    await using t = await setUp();
    const moved = await t.call("fetch", { url: `${t.server.origin}/moved` });
    expect(moved.isError).toBe(false);
    expect(JSON.parse(moved.output)).toMatchObject({ data: "forty-two" });
    const away = await t.call("fetch", { url: `${t.server.origin}/away` });
    expect(away.isError).toBe(true);
    expect(away.output).toContain(`redirected to ${t.attacker.origin}`);
    expect(away.output).toContain("not followed");
    expect(t.attacker.seen).toEqual([]);
  });

  it("offers and runs a tool limited to some tenants for those tenants' sessions only", async () => {
    await using t = await setUp();
    expect([...t.tools.namesFor("acme")]).toEqual(["fetch", "post", "whoami"]);
    expect([...t.tools.namesFor("globex")]).toEqual(["fetch", "whoami"]);
    expect([...t.tools.namesFor("")]).toEqual(["fetch", "whoami"]);
    expect(t.tools.catalog("globex").map((tool) => tool.name)).toEqual(["fetch", "whoami"]);
    // Refused exactly like a name that is no host tool at all, before any request.
    await expect(t.call("post", { note: "hi" }, undefined, "globex")).rejects.toThrow('"post" is not a host tool');
    await expect(t.call("none", {}, undefined, "globex")).rejects.toThrow('"none" is not a host tool');
    expect(t.server.seen).toEqual([]);
    expect((await t.call("post", { note: "hi" }, undefined, "acme")).isError).toBe(false);
    expect(t.server.seen).toHaveLength(1);
  });

  it("checks the input against the schema before any request", async () => {
    await using t = await setUp();
    for (const input of [{ url: 42 }, { q: "no url" }, { url: "/data", extra: 1 }]) {
      const outcome = await t.call("fetch", input);
      expect(outcome.isError).toBe(true);
      expect(outcome.output).toContain("does not match the schema of tool fetch");
    }
    const notJson = await t.tools.execute({
      sessionId: "s",
      toolUseId: "t",
      name: "fetch",
      inputJson: "{",
      tenant: "",
    });
    expect(notJson.output).toContain("is not valid JSON");
    expect(t.server.seen).toEqual([]);
  });

  it("turns an HTTP error, a timeout, a refused connection and an oversized body into error strings", async () => {
    await using t = await setUp();
    const broken = await t.call("fetch", { url: `${t.server.origin}/broken` });
    expect(broken).toMatchObject({ isError: true, exitCode: 1 });
    expect(broken.output).toContain("HTTP 503 Service Unavailable");
    expect(broken.output).toContain("your key [redacted] is fine");
    expect(broken.output).not.toContain(canary);

    const hang = await t.call("fetch", { url: `${t.server.origin}/hang` });
    expect(hang.isError).toBe(true);
    expect(hang.output).toContain("timed out after 500 ms; its outcome is unknown");

    const big = await t.call("fetch", { url: `${t.server.origin}/big` });
    expect(big).toMatchObject({ isError: false, truncated: true });
    expect(big.output).toBe(`${"x".repeat(1000)}\n[response truncated at 1000 bytes]`);

    const origin = t.server.origin;
    await t.server[Symbol.asyncDispose]();
    const refused = await t.call("fetch", { url: `${origin}/data` });
    expect(refused.isError).toBe(true);
    expect(refused.output).toContain("ECONNREFUSED");
  });

  it("stops when the caller cancels: the loop treats it like a cancelled executor call", async () => {
    await using t = await setUp();
    const cancel = new AbortController();
    const call = t.call("fetch", { url: `${t.server.origin}/hang` }, cancel.signal);
    await expect.poll(() => t.server.seen.length).toBe(1);
    cancel.abort();
    await expect(call).rejects.toBeInstanceOf(ToolAbortedError);
  });
});
