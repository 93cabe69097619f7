export type { Daemon, DaemonOptions } from "./daemon.js";
export { repoRoot, startDaemon } from "./daemon.js";
export { freePort } from "./free-port.js";
export type { NatsServer, NatsServerOptions } from "./nats-server.js";
export { startNatsServer, waitForPort } from "./nats-server.js";
