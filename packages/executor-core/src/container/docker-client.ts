import Docker from "dockerode";

/**
 * A dockerode client for a DOCKER_HOST-style address: "unix:///path",
 * "tcp://host:port" (plain HTTP) or a bare socket path. Undefined: the default
 * socket.
 */
export function createDockerClient(host: string | undefined): Docker {
  if (!host) return new Docker({ socketPath: "/var/run/docker.sock" });
  if (host.startsWith("unix://")) return new Docker({ socketPath: host.slice("unix://".length) });
  if (host.startsWith("/")) return new Docker({ socketPath: host });
  if (host.startsWith("tcp://") || host.startsWith("http://")) {
    const url = new URL(host.replace(/^tcp:/, "http:"));
    return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: "http" });
  }
  throw new Error(`DOCKER_HOST ${JSON.stringify(host)} is not supported: use unix:///path or tcp://host:port`);
}
