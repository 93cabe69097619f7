import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectDocker, listLabelledVolumes } from "@reins/testkit";
import { describe, expect, it } from "vitest";
import { parseCatalog } from "../catalog/index.js";
import { workspaceLabel, workspaceVolumeName } from "../container/index.js";
import { defaultCatalog, startTestExecutor } from "../testing/test-executor.js";

const sessionId = () => `ws-${randomBytes(6).toString("hex")}`;

describe("session workspaces with the default catalog", () => {
  it("keeps files across calls of one session, and only that session sees them", async () => {
    await using t = await startTestExecutor(defaultCatalog());
    const a = sessionId();
    const b = sessionId();
    const wrote = await t.run("write_file", { path: "src/hello.txt", content: "hello\nworld\n" }, a);
    expect(wrote).toMatchObject({ isError: false });
    expect(wrote.output).toBe("wrote 12 bytes to src/hello.txt\n");
    await t.executor.ready(); // as during the model's next turn: the session's container is pre-started
    const read = await t.run("read_file", { path: "/workspace/src/hello.txt" }, a);
    expect(read.output).toBe("hello\nworld\n");
    expect(read.warm).toBe(true);
    expect((await t.run("bash", { command: "ls -la src | tail -1; pwd; id -u" }, a)).stdout).toMatch(
      /sandbox +sandbox +12 .* hello\.txt\n\/workspace\n1000\n$/,
    );
    expect((await t.run("list_files", {}, a)).output).toBe("./src/\n./src/hello.txt\n");
    const other = await t.run("read_file", { path: "src/hello.txt" }, b);
    expect(other).toMatchObject({ isError: true, exitCode: 1 });
    expect(other.output).toBe("[stderr]\nno such file: src/hello.txt\n[exit code 1]");
    expect(await listLabelledVolumes(t.docker, `${workspaceLabel}=${a}`)).toEqual([workspaceVolumeName(a)]);
  });

  it("refuses paths that leave the workspace, before any container starts", async () => {
    await using t = await startTestExecutor(defaultCatalog());
    const r = await t.run("read_file", { path: "../../etc/passwd" }, sessionId());
    expect(r.isError).toBe(true);
    expect(r.output).toMatch(/input does not match the schema of tool read_file:\ninput.path: must match pattern/);
  });

  it("needs a session id for workspace tools (a caller mistake)", async () => {
    await using t = await startTestExecutor(defaultCatalog());
    const err = await t.run("bash", { command: "true" }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toBe("tool bash works in a session workspace: session_id is required");
  });

  it("DeleteWorkspace removes the volume (and its warm container); a second delete finds nothing", async () => {
    await using t = await startTestExecutor(defaultCatalog());
    const s = sessionId();
    await t.run("write_file", { path: "keep.txt", content: "x" }, s);
    await t.executor.ready(); // the session's warm container now mounts the volume
    expect(await t.executor.deleteWorkspace(s)).toBe(true);
    expect(await listLabelledVolumes(t.docker, `${workspaceLabel}=${s}`)).toEqual([]);
    expect(await t.executor.deleteWorkspace(s)).toBe(false);
    // A later call starts an empty workspace.
    expect((await t.run("list_files", {}, s)).output).toBe("");
    await expect(t.executor.deleteWorkspace("bad id")).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  it("runs the python tool on the full sandbox image when it is built", async (ctx) => {
    const docker = connectDocker();
    const hasImage = await docker
      .getImage("reins/sandbox")
      .inspect()
      .then(() => true)
      .catch(() => false);
    if (!hasImage) ctx.skip("reins/sandbox is not built (scripts/build-images.sh)");
    const text = (await import("node:fs")).readFileSync(
      new URL("../../../../apps/executor/tools.yaml", import.meta.url),
      "utf8",
    );
    await using t = await startTestExecutor(parseCatalog(text));
    const s = sessionId();
    const py = await t.run("python", { code: "import sys\nprint(sum(range(10)))\nprint('oops', file=sys.stderr)" }, s);
    expect(py).toMatchObject({ isError: false, stdout: "45\n", stderr: "oops\n" });
    const bash = await t.run("bash", { command: "echo $BASH_VERSION | cut -d. -f1; python3 -c 'print(1)'" }, s);
    expect(bash.stdout).toMatch(/^5\n1\n$/);
    await t.executor.deleteWorkspace(s);
  });
});
