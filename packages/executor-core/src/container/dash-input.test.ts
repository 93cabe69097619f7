import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connectDocker, repoRoot } from "@reins/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCatalog } from "../catalog/index.js";
import { startTestExecutor, type TestExecutor, tinyImage } from "../testing/test-executor.js";

// Every tool of the default catalog, with inputs that start with "-": each must reach its
// program as a name or a script, never as an option. The default catalog's own image has
// GNU bash, coreutils and findutils; the tiny one has busybox, whose parsers differ.
const images = [tinyImage, "reins/sandbox"];
const catalogText = readFileSync(`${repoRoot}apps/executor/tools.yaml`, "utf8");

describe.each(images)("default tools take no input as an option (%s)", (image) => {
  let t: TestExecutor | undefined;
  let session = "";
  let skip: string | undefined;

  beforeAll(async () => {
    const built = await connectDocker()
      .getImage(image)
      .inspect()
      .then(() => true)
      .catch(() => false);
    if (!built) {
      skip = `${image} is not built (scripts/build-images.sh)`;
      return;
    }
    t = await startTestExecutor(parseCatalog(catalogText, "apps/executor/tools.yaml", { image }), { poolSize: 0 });
  });
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
  });

  const run = async (name: string, input: Record<string, unknown>) => {
    if (!t) throw new Error("no executor");
    return t.run(name, input, session);
  };

  // A fresh workspace per test holding keep.txt, which no call below may touch.
  const withWorkspace = (title: string, body: () => Promise<void>, needsPython = false) =>
    it(title, async (ctx) => {
      if (skip) ctx.skip(skip);
      if (needsPython && image === tinyImage) ctx.skip("the tiny image has no python3");
      session = `dash-${randomBytes(6).toString("hex")}`;
      try {
        expect((await run("write_file", { path: "keep.txt", content: "kept\n" })).isError).toBe(false);
        await body();
        expect((await run("read_file", { path: "keep.txt" })).output).toBe("kept\n");
      } finally {
        await t?.executor.deleteWorkspace(session);
      }
    });

  withWorkspace("list_files: a path such as -delete is a directory name", async () => {
    const deleted = await run("list_files", { path: "-delete" });
    expect(deleted.stdout).toBe("");
    expect(deleted.stderr).toMatch(/\.\/-delete.*No such file or directory/);
    await run("write_file", { path: "-newer/a.txt", content: "a" });
    expect((await run("list_files", { path: "-newer" })).output).toBe("./-newer/a.txt\n");
    expect((await run("list_files", { path: "-newer", max_depth: 1 })).output).toBe("./-newer/a.txt\n");
    expect((await run("list_files", {})).output).toBe("./-newer/\n./-newer/a.txt\n./keep.txt\n");
  });

  withWorkspace("read_file: paths -, -n and --help are files", async () => {
    for (const path of ["-", "-n", "--help"]) {
      expect((await run("write_file", { path, content: `in ${path}\n` })).isError).toBe(false);
      expect(await run("read_file", { path })).toMatchObject({ isError: false, output: `in ${path}\n` });
    }
    const missing = await run("read_file", { path: "-missing" });
    expect(missing).toMatchObject({ isError: true, exitCode: 1, stderr: "no such file: -missing\n" });
  });

  withWorkspace("write_file: paths -p, --version and -d/-x are files", async () => {
    for (const path of ["-p", "--version", "-d/-x"]) {
      const wrote = await run("write_file", { path, content: "abc" });
      expect(wrote).toMatchObject({ isError: false, output: `wrote 3 bytes to ${path}\n` });
    }
    expect((await run("list_files", {})).output).toBe("./--version\n./-d/\n./-d/-x\n./-p\n./keep.txt\n");
  });

  withWorkspace("bash: a command such as -delete or --version is a command", async () => {
    for (const command of ["-delete", "--version", "-c"]) {
      const r = await run("bash", { command });
      expect(r.exitCode).toBe(127);
      expect(r.stderr).toMatch(new RegExp(`${command}: (command )?not found`));
    }
  });

  withWorkspace(
    "python: a program such as -m is a program",
    async () => {
      const r = await run("python", { code: "-m\n" });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/NameError: name 'm' is not defined/);
      expect((await run("python", { code: "-1 and print('ran')" })).stdout).toBe("ran\n");
    },
    true,
  );
});
