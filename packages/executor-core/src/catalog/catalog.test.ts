import { describe, expect, it } from "vitest";
import { CatalogError } from "../errors.js";
import { defaultCatalog } from "../testing/test-executor.js";
import { parseBytes, parseDuration } from "../units.js";
import { parseCatalog } from "./catalog.js";

const tool = (extra: string) => `
tools:
  - name: t
    description: a tool
    input_schema: {type: object, properties: {x: {type: string}}}
    command: {argv: [sh, -c, "{{x}}"]}
${extra}`;

function errorOf(text: string): string {
  try {
    parseCatalog(text, "tools.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogError);
    return (err as Error).message;
  }
  throw new Error("expected the catalog to be refused");
}

describe("parseCatalog", () => {
  it("loads the default catalog with defaults applied and the image overridable", () => {
    const catalog = defaultCatalog();
    expect(catalog.tools.map((t) => t.name)).toEqual(["bash", "python", "read_file", "write_file", "list_files"]);
    const bash = catalog.get("bash");
    expect(bash).toMatchObject({
      image: "reins/sandbox-tiny",
      network: "none",
      workspace: "session",
      memoryBytes: 512 * 1024 * 1024,
      timeoutMs: 60_000,
      maxOutputBytes: 30_000,
      env: { LANG: "C.UTF-8" },
      idempotent: false,
    });
    expect(catalog.get("read_file")?.idempotent).toBe(true);
    expect(catalog.get("read_file")?.timeoutMs).toBe(20_000);
    expect(catalog.pool).toEqual({ size: 2, sessionIdleMs: 120_000, sessionMax: 16 });
    expect(catalog.workspaces).toEqual({ sizeBytes: 1024 ** 3 });
  });

  it("sizes workspaces per catalog: 1 GiB unless workspaces.size says otherwise", () => {
    expect(parseCatalog(tool("")).workspaces.sizeBytes).toBe(1024 ** 3);
    expect(parseCatalog(tool("workspaces: {size: 64m}")).workspaces.sizeBytes).toBe(64 * 1024 ** 2);
    expect(parseCatalog(tool("workspaces: {size: 2 GiB}")).workspaces.sizeBytes).toBe(2 * 1024 ** 3);
    expect(errorOf(tool("workspaces: {size: 1m}"))).toBe(
      "tools.yaml is invalid:\nworkspaces.size: must be from 16 MiB to 1024 GiB, not 1 MiB",
    );
    expect(errorOf(tool("workspaces: {size: 2t}"))).toMatch(/workspaces.size: "2t" is not a size/);
    expect(errorOf(tool("workspaces: {size: 0}"))).toMatch(/catalog.workspaces.size: has the wrong type or format/);
    expect(errorOf(tool("workspaces: {size: lots}"))).toMatch(/catalog.workspaces.size: has the wrong type/);
    expect(errorOf(tool("workspaces: {quota: 1g}"))).toMatch(/catalog.workspaces.quota: is not allowed here/);
  });

  it("rejects the default catalog's path patterns that leave the workspace", () => {
    const read = defaultCatalog().get("read_file");
    expect(read?.validate({ path: "src/a.py" })).toBe(true);
    expect(read?.validate({ path: "/workspace/a.py" })).toBe(true);
    expect(read?.validate({ path: "../etc/passwd" })).toBe(false);
    expect(read?.validate({ path: "a/../../b" })).toBe(false);
    expect(read?.validate({ path: "/etc/passwd" })).toBe(false);
  });

  it("says where each problem is", () => {
    expect(errorOf("tools: [")).toMatch(/tools.yaml: not valid YAML/);
    expect(errorOf("{}")).toMatch(/catalog.tools: is required/);
    expect(errorOf(tool("    memory: lots"))).toMatch(/tools\[0\]\.memory: has the wrong type or format/);
    expect(errorOf(tool("    memory: 1k"))).toMatch(/tools\[0\] \(t\): memory must be at least/);
    expect(errorOf(tool("    network: 3"))).toMatch(/tools\[0\]\.network: must be string/);
    expect(errorOf(tool("    runtime: 'run sc'"))).toMatch(/tools\[0\]\.runtime: must match pattern/);
    expect(errorOf(tool("    workspace: shared"))).toMatch(/tools\[0\]\.workspace: must be one of "none", "session"/);
    expect(errorOf(tool("    colour: red"))).toMatch(/tools\[0\]\.colour: is not allowed here/);
    expect(errorOf(tool("    env: {PATH: /evil}"))).toMatch(/env.PATH is set by the executor/);
  });

  it("takes a tool's runtime from the tool, else from defaults, else leaves it to the engine", () => {
    expect(parseCatalog(tool("")).get("t")?.runtime).toBeUndefined();
    expect(parseCatalog(tool("    runtime: runsc")).get("t")?.runtime).toBe("runsc");
    expect(parseCatalog(`defaults: {runtime: runsc}\n${tool("")}`).get("t")?.runtime).toBe("runsc");
    expect(parseCatalog(`defaults: {runtime: runsc}\n${tool("    runtime: runc")}`).get("t")?.runtime).toBe("runc");
  });

  it("checks that templates only use fields the input schema declares", () => {
    const text = `
tools:
  - name: t
    description: d
    input_schema: {type: object, properties: {x: {type: string}}}
    command: {argv: [sh, -c, "{{y}}"]}`;
    expect(errorOf(text)).toMatch(/command.argv\[2\] uses \{\{y\}\} but input_schema has no property "y"/);
  });

  it("refuses duplicate names, invalid schemas and non-object inputs", () => {
    const twice = tool("").replace(
      "tools:\n",
      "tools:\n  - {name: t, description: d, input_schema: {type: object}, command: {argv: [echo]}}\n",
    );
    expect(errorOf(twice)).toMatch(/duplicate tool name/);
    const badSchema = tool("").replace("{type: string}", "{type: strng}");
    expect(errorOf(badSchema)).toMatch(/input_schema is not a valid JSON Schema/);
    const notObject = tool("").replace("{type: object, properties: {x: {type: string}}}", "{type: string}");
    expect(errorOf(notObject)).toMatch(/input_schema must have type: "object"/);
  });
});

describe("units", () => {
  it("parses sizes and durations the way Docker and people write them", () => {
    expect(parseBytes("256m")).toBe(256 * 1024 ** 2);
    expect(parseBytes("64 MiB")).toBe(64 * 1024 ** 2);
    expect(parseBytes("1.5k")).toBe(1536);
    expect(parseBytes(100)).toBe(100);
    expect(() => parseBytes("12 parsecs")).toThrow(/not a size/);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration(1.5)).toBe(1500);
    expect(() => parseDuration("soon")).toThrow(/not a duration/);
  });
});
