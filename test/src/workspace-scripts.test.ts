import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// A package whose test script passes when it finds no test files would stay
// green if its tests stopped being found (a moved folder, a wrong include
// pattern): the suite must fail instead. So every package that has a test
// script has test files, and none tells vitest to pass without them.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The workspace's packages, from pnpm-workspace.yaml's globs (`dir/*` or `dir`). */
function workspacePackages(): string[] {
  const text = readFileSync(path.join(root, "pnpm-workspace.yaml"), "utf8");
  const section = text.split(/^packages:\n/m)[1]?.split(/^\S/m)[0] ?? "";
  const globs = [...section.matchAll(/^\s+-\s+(\S+)/gm)].map((m) => m[1] as string);
  return globs.flatMap((glob) =>
    glob.endsWith("/*")
      ? readdirSync(path.join(root, glob.slice(0, -2)), { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => path.join(glob.slice(0, -2), d.name))
      : [glob],
  );
}

/** The package's `*.test.ts` files, outside node_modules and dist. */
function testFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) {
      return entry.name === "node_modules" || entry.name === "dist" ? [] : testFiles(path.join(dir, entry.name));
    }
    return entry.name.endsWith(".test.ts") ? [path.join(dir, entry.name)] : [];
  });
}

describe("workspace test scripts", () => {
  it("run vitest without --passWithNoTests, in packages that have test files", () => {
    const packages = workspacePackages();
    expect(packages).toContain("packages/harness-core");
    expect(packages).toContain("test");
    const problems: string[] = [];
    for (const dir of packages) {
      let manifest: { scripts?: Record<string, string> };
      try {
        manifest = JSON.parse(readFileSync(path.join(root, dir, "package.json"), "utf8"));
      } catch {
        continue; // a folder that is no package
      }
      const script = manifest.scripts?.test;
      if (script === undefined) continue;
      if (script.includes("--passWithNoTests")) problems.push(`${dir}: its test script passes with no tests`);
      if (testFiles(dir).length === 0) problems.push(`${dir}: has a test script but no *.test.ts file`);
    }
    expect(problems).toEqual([]);
  });
});
