import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "@reins/launch";
import { execa, type ResultPromise } from "execa";
import { natsBinary, waitForPort } from "./nats-server.js";

export interface NatsClusterOptions {
  /** Number of nodes; 3 by default (the smallest cluster that keeps R3 quorum with one down). */
  size?: number;
  /** How long to wait for JetStream to elect a meta leader. */
  timeoutMs?: number;
}

/** One node: its client URL, store dir and the server_name JetStream reports. */
export interface NatsClusterNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** HTTP monitoring port (/varz, /jsz, /routez). */
  readonly monitorPort: number;
  readonly storeDir: string;
  readonly pid: number | undefined;
  readonly running: boolean;
}

/**
 * A real nats-server cluster with JetStream on loopback: each node has its own
 * client port, route port, store dir and config file. Nodes can be killed and
 * restarted on the same store (and ports), so fault tests exercise leader
 * elections and catch-up; dispose stops every node and removes every file.
 */
export interface NatsCluster extends AsyncDisposable {
  readonly nodes: readonly NatsClusterNode[];
  /** Every node's client URL, comma-separated (what REINS_NATS_URL takes). */
  readonly url: string;
  readonly urls: string[];
  /** SIGKILL (by default) node `i` and wait for it to exit. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts node `i` again on its store dir, then waits as waitForMetaLeader does. */
  restart(i: number): Promise<void>;
  /** Resolves once a running node leads the JetStream meta group and sees every other running node as current; returns its server_name. */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  /** Index of the node named `serverName`, or -1. */
  indexOf(serverName: string): number;
  stop(): Promise<void>;
}

interface NodeState {
  name: string;
  port: number;
  routePort: number;
  monitorPort: number;
  storeDir: string;
  configFile: string;
  child: ResultPromise | undefined;
}

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const dir = await mkdtemp(path.join(tmpdir(), "reins-nats-cluster-"));
  const nodes: NodeState[] = [];
  for (let i = 0; i < size; i++) {
    nodes.push({
      name: `n${i + 1}`,
      port: await freePort(),
      routePort: await freePort(),
      monitorPort: await freePort(),
      storeDir: path.join(dir, `n${i + 1}`, "store"),
      configFile: path.join(dir, `n${i + 1}`, "nats.conf"),
      child: undefined,
    });
  }
  const routes = nodes.map((n) => `nats-route://127.0.0.1:${n.routePort}`);
  for (const node of nodes) {
    await mkdir(node.storeDir, { recursive: true });
    await writeFile(node.configFile, configFor(node, routes));
  }

  const launch = async (node: NodeState) => {
    node.child = execa(natsBinary, ["-c", node.configFile], { reject: false, stdio: "ignore", cleanup: true });
    await waitForPort(node.port, node.child);
  };
  const kill = async (i: number, signal: NodeJS.Signals = "SIGKILL") => {
    const node = at(nodes, i);
    const running = node.child;
    node.child = undefined;
    if (!running || running.exitCode !== null) return;
    running.kill(signal);
    await running;
  };
  const urlOf = (n: NodeState) => `nats://127.0.0.1:${n.port}`;
  const waitForMetaLeader = async (ms = timeoutMs) => {
    const deadline = Date.now() + ms;
    let last = "no node answered";
    while (Date.now() < deadline) {
      const up = nodes.filter((n) => n.child && n.child.exitCode === null);
      const leader = await metaLeader(up.map((n) => n.monitorPort));
      const leaderNode = up.find((n) => n.name === leader);
      // Right after a kill, followers still name the dead leader until their election timeout.
      if (leader && leaderNode) {
        // A leader may be elected before it knows every peer is current; until it
        // does, placing a replicated stream fails with "no suitable peers".
        const current = await currentPeers(leaderNode.monitorPort);
        const behind = up.filter((n) => n !== leaderNode && !current.has(n.name)).map((n) => n.name);
        if (behind.length === 0) return leader;
        last = `leader ${leader} does not yet see ${behind.join(", ")} as current`;
      } else {
        last = `${up.length} of ${nodes.length} nodes running, ${leader ? `leader ${leader} is down` : "none reports a leader"}`;
      }
      // An election has no event a client can subscribe to before JetStream answers.
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no JetStream meta leader with every running peer current within ${ms} ms: ${last}`);
  };
  const stop = async () => {
    await Promise.all(nodes.map((_, i) => kill(i, "SIGTERM")));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all(nodes.map(launch));
    await waitForMetaLeader();
  } catch (err) {
    await stop();
    throw err;
  }
  const urls = nodes.map(urlOf);
  return {
    nodes: nodes.map((n) => ({
      name: n.name,
      port: n.port,
      url: urlOf(n),
      monitorPort: n.monitorPort,
      storeDir: n.storeDir,
      get pid() {
        return n.child?.pid;
      },
      get running() {
        return n.child !== undefined && n.child.exitCode === null;
      },
    })),
    url: urls.join(","),
    urls,
    kill,
    restart: async (i) => {
      await kill(i);
      await launch(at(nodes, i));
      await waitForMetaLeader();
    },
    waitForMetaLeader,
    indexOf: (serverName) => nodes.findIndex((n) => n.name === serverName),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function at(nodes: NodeState[], i: number): NodeState {
  const node = nodes[i];
  if (!node) throw new RangeError(`no node ${i} in a cluster of ${nodes.length}`);
  return node;
}

function configFor(node: NodeState, routes: string[]): string {
  return `server_name: ${node.name}
listen: 127.0.0.1:${node.port}
http: 127.0.0.1:${node.monitorPort}
jetstream {
  store_dir: "${node.storeDir}"
}
cluster {
  name: reins-test
  listen: 127.0.0.1:${node.routePort}
  routes: [
${routes.map((r) => `    ${r}`).join("\n")}
  ]
}
`;
}

interface MetaCluster {
  leader?: string;
  /** Listed by the leader only. */
  replicas?: { name: string; current?: boolean }[];
}

// A node's view of the JetStream meta group, from its monitoring endpoint (/jsz).
async function metaCluster(monitorPort: number): Promise<MetaCluster | undefined> {
  const response = await fetch(`http://127.0.0.1:${monitorPort}/jsz`, { signal: AbortSignal.timeout(2000) }).catch(
    () => undefined,
  );
  if (!response?.ok) return undefined;
  return ((await response.json()) as { meta_cluster?: MetaCluster }).meta_cluster;
}

// The meta group's leader as the running nodes see it: /jsz reports
// `meta_cluster.leader` once an election has finished.
async function metaLeader(monitorPorts: number[]): Promise<string | undefined> {
  for (const port of monitorPorts) {
    const leader = (await metaCluster(port))?.leader;
    if (leader) return leader;
  }
  return undefined;
}

// The peers the meta leader reports current.
async function currentPeers(monitorPort: number): Promise<Set<string>> {
  const replicas = (await metaCluster(monitorPort))?.replicas ?? [];
  return new Set(replicas.filter((r) => r.current).map((r) => r.name));
}
