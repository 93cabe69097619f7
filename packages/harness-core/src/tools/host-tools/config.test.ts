import { describe, expect, it } from "vitest";
import { parseHostToolsConfig, type SecretSources } from "./config.js";

const canary = "canary-7f3a9c";
const sources: SecretSources = {
  env: { WEATHER_KEY: canary, EMPTY: "" },
  readFile: (path) => {
    if (path === "/run/secrets/key") return `${canary}\n`;
    throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: "ENOENT" });
  },
};

const tool = (extra = "") => `
tools:
  - name: weather
    description: Weather for a city.
    input_schema:
      type: object
      properties: { city: { type: string } }
      required: [city]
    url: "http://127.0.0.1:8080/weather/{city}"
    allowed_origins: ["http://127.0.0.1:8080"]
${extra}`;

const problems = (text: string) => {
  try {
    parseHostToolsConfig(text, "host-tools.yaml", sources);
  } catch (err) {
    return (err as Error).message;
  }
  return "no error";
};

describe("host tools config", () => {
  it("reads a tool with its defaults and a secret from the environment", () => {
    const [spec] = parseHostToolsConfig(
      tool("    secret: { env: WEATHER_KEY, header: X-Api-Key }"),
      "host-tools.yaml",
      sources,
    );
    expect(spec).toMatchObject({
      name: "weather",
      method: "GET",
      allowedOrigins: ["http://127.0.0.1:8080"],
      timeoutMs: 10_000,
      maxResponseBytes: 65_536,
      idempotent: false,
      credential: { header: "x-api-key" },
    });
    expect(spec?.credential?.value()).toBe(canary);
    // The value is not a field: serialising the spec cannot reveal it.
    expect(JSON.stringify(spec)).not.toContain(canary);
  });

  it("reads a secret from a file, without its trailing newline, with a prefix", () => {
    const [spec] = parseHostToolsConfig(
      tool('    secret: { file: /run/secrets/key, header: authorization, prefix: "Bearer " }'),
      "f",
      sources,
    );
    expect(spec?.credential?.value()).toBe(`Bearer ${canary}`);
    expect(spec?.credential?.secret()).toBe(canary);
  });

  it("binds a secret to one origin: named, the url's, or the only allowed one", () => {
    const secret = "    secret: { env: WEATHER_KEY, header: x-api-key }";
    expect(parseHostToolsConfig(tool(secret), "f", sources)[0]?.credential?.origin).toBe("http://127.0.0.1:8080");
    const open = (origins: string, extra = "") =>
      tool(`${secret.replace(" }", `${extra} }`)}`)
        .replace('"http://127.0.0.1:8080/weather/{city}"', '"{+city}"')
        .replace('["http://127.0.0.1:8080"]', origins);
    expect(parseHostToolsConfig(open('["http://127.0.0.1:8080"]'), "f", sources)[0]?.credential?.origin).toBe(
      "http://127.0.0.1:8080",
    );
    const two = '["http://127.0.0.1:8080", "https://partner.test"]';
    expect(
      parseHostToolsConfig(open(two, ", origin: 'HTTPS://partner.test/'"), "f", sources)[0]?.credential?.origin,
    ).toBe("https://partner.test");
    expect(problems(open(two))).toContain("secret.origin is required: the url's origin depends on the input");
    expect(problems(open(two, ", origin: 'http://elsewhere.test'"))).toContain(
      "secret.origin http://elsewhere.test is not in allowed_origins",
    );
    expect(problems(open(two, ", origin: 'http://127.0.0.1:8080/x'"))).toContain("secret.origin:");
    expect(
      problems(
        tool(secret.replace(" }", ", origin: 'https://partner.test' }")).replace('["http://127.0.0.1:8080"]', two),
      ),
    ).toContain("secret.origin https://partner.test is not where url goes (http://127.0.0.1:8080)");
  });

  it("reads the tenants a tool is limited to; none listed means every tenant", () => {
    const [limited] = parseHostToolsConfig(tool("    tenants: [acme, globex]"), "f", sources);
    expect(limited?.tenants).toEqual(["acme", "globex"]);
    const [open] = parseHostToolsConfig(tool(), "f", sources);
    expect(open?.tenants).toBeUndefined();
    expect(problems(tool("    tenants: []"))).toContain("/tools/0/tenants must NOT have fewer than 1 items");
    expect(problems(tool('    tenants: [""]'))).toContain("/tools/0/tenants/0");
    expect(problems(tool("    tenants: [acme, acme]"))).toContain("/tools/0/tenants must NOT have duplicate items");
  });

  it("reports every problem at once, naming where a secret was to be found but never a secret", () => {
    const text = `
tools:
  - name: a
    description: d
    input_schema: { type: object, properties: { id: { type: string } } }
    url: "http://127.0.0.1:8080/{nope}"
    allowed_origins: ["http://127.0.0.1:8080"]
    secret: { env: MISSING, header: x-api-key }
  - name: a
    description: d
    input_schema: { type: object }
    url: "http://other.test/x"
    allowed_origins: ["http://127.0.0.1:8080"]
  - name: c
    description: d
    input_schema: { type: object }
    url: "http://127.0.0.1:8080/x"
    allowed_origins: ["http://127.0.0.1:8080"]
    secret: { file: /run/secrets/none, header: x-api-key }
  - name: d
    description: d
    input_schema: { type: array }
    url: "http://127.0.0.1:8080/x"
    allowed_origins: ["http://127.0.0.1:8080"]
`;
    const message = problems(text);
    expect(message).toContain('url uses {nope} but input_schema has no property "nope"');
    expect(message).toContain("tools[1] (a): duplicate tool name");
    expect(message).toContain('tools[3] (d): input_schema must have type: "object"');
    expect(message).toContain("tools[1] (a): url goes to http://other.test, which is not in allowed_origins");
    expect(message).toContain("secret.file: /run/secrets/none cannot be read (ENOENT)");
    expect(message).not.toContain(canary);
  });

  it("refuses a missing secret, a bad shape, a bad header name and a bad schema", () => {
    expect(problems(tool("    secret: { env: EMPTY, header: x-api-key }"))).toContain("EMPTY is not set or empty");
    expect(problems(tool("    secret: { env: WEATHER_KEY, file: /x, header: x-api-key }"))).toContain("oneOf");
    expect(problems(tool("    secret: { env: WEATHER_KEY, header: 'bad header' }"))).toContain(
      "/tools/0/secret/header",
    );
    expect(problems(tool().replace('8080"]', '8080/path"]'))).toContain("must be an origin only");
    expect(problems(tool("    method: TRACE"))).toContain("/tools/0/method");
    expect(problems(tool("    timeout_ms: 0"))).toContain("/tools/0/timeout_ms");
    expect(problems("tools: [{ name: 'bad name' }]")).toContain("/tools/0/name");
    expect(problems("tools: [\n")).toContain("not valid YAML");
    expect(
      problems(tool().replace("properties: { city: { type: string } }", "properties: { city: { type: strang } }")),
    ).toContain("input_schema is not a valid JSON Schema");
  });

  it("refuses a secret that cannot be a header value without saying anything about it", () => {
    const message = (() => {
      try {
        parseHostToolsConfig(tool("    secret: { env: K, header: x-api-key }"), "f", {
          ...sources,
          env: { K: `${canary}\r\nx-evil: 1` },
        });
      } catch (err) {
        return (err as Error).message;
      }
      return "no error";
    })();
    expect(message).toContain("cannot be a header");
    expect(message).not.toContain(canary);
  });
});
