import { execa } from "execa";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CommandInputError } from "../errors.js";
import { buildScript, renderArgv, renderTemplate, runnerArgv, shellQuote } from "./command.js";

describe("renderTemplate", () => {
  it("puts each field in as one value: strings as is, others as JSON, missing as empty", () => {
    const input = { command: "echo 'a b' $HOME; rm -rf /", n: 3, o: { a: 1 } };
    expect(renderTemplate("{{command}}", input)).toBe(input.command);
    expect(renderTemplate("n={{ n }} o={{o}} m={{missing}}", input)).toBe('n=3 o={"a":1} m=');
  });

  it("refuses NUL bytes in arguments with a message naming the field", () => {
    expect(() => renderArgv(["sh", "-c", "{{command}}"], { command: "a\0b" })).toThrow(CommandInputError);
    expect(() => renderArgv(["sh", "-c", "{{command}}"], { command: "a\0b" })).toThrow(/command.*NUL/);
  });
});

describe("shellQuote", () => {
  it("survives /bin/sh for any string without NUL", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: "binary" }).filter((s) => !s.includes("\0")),
        async (s) => {
          const { stdout } = await execa("/bin/sh", ["-c", `printf %s ${shellQuote(s)}`], { stripFinalNewline: false });
          expect(stdout).toBe(s);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("buildScript", () => {
  it("runs the argv with only PATH, HOME and named variables, then prints the exit trailer on both streams", async () => {
    const script = buildScript({
      argv: ["/bin/sh", "-c", 'env | sort; echo "$1" >&2; cat; exit 7', "sh", "it's $(not) expanded"],
      env: { GREETING: "hello world" },
      workspace: false,
      stdin: Buffer.from("from stdin\n"),
    });
    // The runner is what containers run as PID 1; the host's sh speaks the same dialect.
    const result = await execa(runnerArgv[0] as string, runnerArgv.slice(1), {
      input: script.delivery,
      env: { SECRET: "must not appear" },
      extendEnv: true,
      reject: false,
    });
    expect(result.stdout).toContain("GREETING=hello world\nHOME=/tmp\nPATH=");
    expect(result.stdout).not.toContain("SECRET");
    expect(result.stdout).toContain("from stdin\n");
    expect(result.stdout).toMatch(new RegExp(`${script.nonce}7:\\d+$`));
    expect(result.stderr).toMatch(new RegExp(`^it's \\$\\(not\\) expanded\n${script.nonce}7:\\d+$`));
  });
});
