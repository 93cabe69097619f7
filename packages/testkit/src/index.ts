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
export type { FakeAnthropic, FakeAnthropicOptions } from "./fake-anthropic.js";
export { startFakeAnthropic } from "./fake-anthropic.js";
export { toolPairingProblems } from "./fake-anthropic-assert.js";
export type { ReceivedToolResult } from "./fake-anthropic-script.js";
export { assistantTurns, lastToolResults, lastUserText, scriptTurns } from "./fake-anthropic-script.js";
export type { SseEvent } from "./fake-anthropic-sse.js";
export { encodeTurn, formatSse } from "./fake-anthropic-sse.js";
export type {
  CapturedRequest,
  FakeBlock,
  FakeFault,
  FakeReply,
  FakeScript,
  FakeStopReason,
  FakeTurn,
  FakeUsage,
  MessagesRequestBody,
} from "./fake-anthropic-types.js";
export { estimateTokens } from "./fake-anthropic-usage.js";
export { validateMessagesRequest } from "./fake-anthropic-validate.js";
export { freePort } from "./free-port.js";
export type { NatsCluster, NatsClusterNode, NatsClusterOptions } from "./nats-cluster.js";
export { startNatsCluster } from "./nats-cluster.js";
export type { NatsServer, NatsServerOptions } from "./nats-server.js";
export { startNatsServer, waitForPort } from "./nats-server.js";
export type { ResetProxy, ResetUnderRequestOptions } from "./reset-proxy.js";
export { startResetProxy } from "./reset-proxy.js";
export type { TestCertificates } from "./tls-certs.js";
export { createTestCertificates } from "./tls-certs.js";
