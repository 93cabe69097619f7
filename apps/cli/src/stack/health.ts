import http from "node:http";
import { connect } from "nats";
import { checkHealth, type HealthState } from "../clients.js";
import { dockerVersion } from "./docker-engine.js";
import { isOurProcess } from "./processes.js";
import type { StackState } from "./state-file.js";

export interface ServiceStatus {
  readonly service: string;
  readonly url: string;
  readonly pid: number | undefined;
  /** SERVING / NOT_SERVING / UNREACHABLE / STOPPED, or the engine version for Docker. */
  readonly health: HealthState | "STOPPED" | string;
  readonly ok: boolean;
}

/** JetStream answers an account-info request: the server is usable, not just listening. */
export async function natsHealth(url: string): Promise<HealthState> {
  try {
    const nc = await connect({ servers: url, timeout: 2_000, reconnect: false, maxReconnectAttempts: 0 });
    try {
      await (await nc.jetstreamManager({ timeout: 2_000 })).getAccountInfo();
      return "SERVING";
    } finally {
      await nc.close();
    }
  } catch {
    return "UNREACHABLE";
  }
}

/** The scripted model and the web console speak plain HTTP: any answer means it serves. */
export function httpHealth(url: string): Promise<HealthState> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2_000 }, (res) => {
      res.resume();
      resolve("SERVING");
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve("UNREACHABLE"));
  });
}

/** Health of every part of a stack: grpc.health.v1 Check for the daemons. */
export async function stackHealth(state: StackState): Promise<ServiceStatus[]> {
  const services = state.services.map(async (s): Promise<ServiceStatus> => {
    if (!isOurProcess(s.pid, s.startTime))
      return { service: s.name, url: s.url, pid: s.pid, health: "STOPPED", ok: false };
    const health =
      s.name === "nats"
        ? await natsHealth(s.url)
        : s.name === "model" || s.name === "console"
          ? await httpHealth(s.url)
          : await checkHealth(s.url);
    return { service: s.name, url: s.url, pid: s.pid, health, ok: health === "SERVING" };
  });
  const docker = (async (): Promise<ServiceStatus> => {
    if (!state.dockerHost) return { service: "docker", url: "(not checked)", pid: undefined, health: "-", ok: true };
    const version = await dockerVersion(state.dockerHost);
    return {
      service: "docker",
      url: state.dockerHost,
      pid: undefined,
      health: version ? `engine ${version}` : "UNREACHABLE",
      ok: version !== undefined,
    };
  })();
  const [nats, ...rest] = await Promise.all(services);
  return [...(nats ? [nats] : []), await docker, ...rest];
}
