import { describe, expect, it } from "vitest";
import { DockerFailure } from "../errors.js";
import type { ContainerProfile } from "./container-spec.js";
import type { SandboxContainer } from "./sandbox-container.js";
import { createWarmPool, type WarmPoolOptions } from "./warm-pool.js";

// Pure pool logic with stand-in containers; the Docker side is covered by the executor tests.
function profile(key: string, sessionId?: string): ContainerProfile {
  return {
    key,
    image: "img",
    memoryBytes: 1,
    cpus: 1,
    pids: 8,
    tmpfsBytes: 1,
    network: "none",
    runtime: undefined,
    volume: sessionId ? `v-${sessionId}` : undefined,
    sessionId,
  };
}

function fakeDocker() {
  let next = 0;
  const discarded: string[] = [];
  const deaths = new Map<string, () => void>();
  let failing = 0;
  const start: WarmPoolOptions["start"] = async (p) => {
    await Promise.resolve();
    if (failing > 0) {
      failing--;
      throw new DockerFailure("unavailable", "Docker is unavailable", 14);
    }
    const id = `${p.key}#${next++}`;
    let alive = true;
    const container: SandboxContainer = {
      id,
      profile: p,
      get alive() {
        return alive;
      },
      onDeath: (listener) =>
        deaths.set(id, () => {
          alive = false;
          listener();
        }),
      run: () => Promise.reject(new Error("not in this test")),
    };
    return container;
  };
  return {
    start,
    discard: (id: string) => discarded.push(id),
    discarded,
    kill: (id: string) => deaths.get(id)?.(),
    failNext: (n: number) => {
      failing = n;
    },
  };
}

describe("createWarmPool", () => {
  it("keeps the target ready, hands each container out once and refills in the background", async () => {
    const docker = fakeDocker();
    const pool = createWarmPool({ start: docker.start, discard: docker.discard });
    const p = profile("a");
    pool.keep(p, 2);
    await pool.ready();
    expect(pool.stats().idle).toBe(2);
    const first = pool.take(p);
    const second = pool.take(p);
    expect(first?.id).not.toBe(second?.id);
    expect(pool.take(p)).toBeUndefined(); // empty: the caller starts its own
    expect(pool.stats()).toMatchObject({ hits: 2, misses: 1 });
    await pool.ready();
    expect(pool.stats().idle).toBe(2);
    await pool.close();
    expect(docker.discarded).toHaveLength(2);
  });

  it("replaces a container that dies while waiting", async () => {
    const docker = fakeDocker();
    const pool = createWarmPool({ start: docker.start, discard: docker.discard });
    const p = profile("a");
    pool.keep(p, 1);
    await pool.ready();
    docker.kill("a#0");
    expect(docker.discarded).toEqual(["a#0"]);
    await pool.ready();
    expect(pool.take(p)?.id).toBe("a#1");
    await pool.close();
  });

  it("backs off after start failures and recovers", async () => {
    const docker = fakeDocker();
    const failures: number[] = [];
    let recovered = 0;
    const pool = createWarmPool({
      start: docker.start,
      discard: docker.discard,
      onStartFailure: (_, __, attempt) => failures.push(attempt),
      onRecovered: () => recovered++,
    });
    docker.failNext(2);
    pool.keep(profile("a"), 1);
    while (pool.stats().idle === 0) await pool.ready().then(() => new Promise((r) => setTimeout(r, 20)));
    expect(failures).toEqual([1, 2]);
    expect(recovered).toBe(1);
    await pool.close();
  });

  it("keeps one container per recently used session, drops idle and least recently used ones", async () => {
    const docker = fakeDocker();
    const pool = createWarmPool({ start: docker.start, discard: docker.discard, sessionMax: 2, sessionIdleMs: 300 });
    const [s1, s2, s3] = [profile("x/s1", "s1"), profile("x/s2", "s2"), profile("x/s3", "s3")];
    pool.touch(s1);
    pool.touch(s2);
    await pool.ready();
    pool.touch(s3); // s1 is the least recently used
    await pool.ready();
    expect(pool.take(s1)).toBeUndefined();
    expect(pool.take(s3)?.profile.sessionId).toBe("s3");
    pool.dropSession("s2");
    expect(docker.discarded.some((id) => id.startsWith("x/s2"))).toBe(true);
    // Left alone, the remaining session entry expires.
    const deadline = Date.now() + 5_000;
    while (pool.stats().profiles > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(pool.stats().profiles).toBe(0);
    await pool.close();
  });

  it("discards containers that finish starting after close", async () => {
    const docker = fakeDocker();
    const pool = createWarmPool({ start: docker.start, discard: docker.discard });
    pool.keep(profile("a"), 3);
    await pool.close();
    // Two were starting (two starts at a time); both were discarded, no third was begun.
    expect(pool.stats()).toMatchObject({ idle: 0, starting: 0 });
    expect(docker.discarded).toEqual(["a#0", "a#1"]);
  });
});
