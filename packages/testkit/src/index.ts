// The fake Messages API is a package of its own (the CLI's scripted model runs it);
// tests take it from here with the launchers.
export * from "@reins/fake-anthropic";
export type { Daemon, DaemonOptions } from "./daemon.js";
export { repoRoot, startDaemon } from "./daemon.js";
export type { LabelFilter } from "./docker.js";
export {
  connectDocker,
  copyImage,
  dockerCleanup,
  listLabelledContainers,
  listLabelledVolumes,
  removeLabelledContainers,
  removeLabelledVolumes,
  resolveDockerHost,
  waitForNoContainers,
} from "./docker.js";
export type { Dockerd, DockerdOptions } from "./dockerd.js";
export { startDockerd } from "./dockerd.js";
export { freePort } from "./free-port.js";
export type { NatsCluster, NatsClusterNode, NatsClusterOptions } from "./nats-cluster.js";
export { startNatsCluster } from "./nats-cluster.js";
export type { NatsServer, NatsServerOptions } from "./nats-server.js";
export { startNatsServer, waitForPort } from "./nats-server.js";
export type { ResetProxy, ResetUnderRequestOptions } from "./reset-proxy.js";
export { startResetProxy } from "./reset-proxy.js";
export type { TestCertificates } from "./tls-certs.js";
export { createTestCertificates } from "./tls-certs.js";
