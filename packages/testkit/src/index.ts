/**
 * @reins/testkit: real infrastructure for tests, started and removed by each test.
 *
 * `startNatsServer` (a nats-server with JetStream on a free port and a temp store,
 * as nats.js's `nst` launcher does) and `startNatsCluster` (three nodes, for R3 and
 * node loss); `startDockerd` (a private engine with `--bridge=none`) and the label
 * helpers that find and remove what a test's containers and volumes left;
 * `startDaemon` (a built daemon from apps/<app>/dist as a real process, resolved
 * on its `listening` line); `createTestCertificates` (a CA and leaf certificates
 * for TLS and mTLS); `startFakeMcpServer` (an MCP server built with the SDK's
 * own server classes, over HTTP, with a bearer check). Every launcher is `AsyncDisposable`: `await using` stops it,
 * also when the test fails.
 *
 * The fake Messages API (@reins/fake-anthropic) and what tests share with `reins up`
 * (@reins/launch) are packages of their own, which the CLI uses at run time; tests
 * take them from here with the launchers.
 */
export type {
  CapturedRequest,
  FakeAnthropic,
  FakeAnthropicOptions,
  FakeBlock,
  FakeFault,
  FakeReply,
  FakeScript,
  FakeTurn,
  ReceivedToolResult,
} from "@reins/fake-anthropic";
export {
  assistantTurns,
  inputTokensOf,
  isSummaryRequest,
  lastToolResults,
  lastUserText,
  scriptTurns,
  startFakeAnthropic,
  summaryTurn,
  toolPairingProblems,
  validateMessagesRequest,
} from "@reins/fake-anthropic";
export { freePort, repoRoot, sandboxImages, testImage } from "@reins/launch";
export type { Daemon } from "./daemon.js";
export { startDaemon } from "./daemon.js";
export {
  connectDocker,
  dockerCleanup,
  listLabelledContainers,
  listLabelledVolumes,
  removeLabelledContainers,
  resolveDockerHost,
  waitForNoContainers,
} from "./docker.js";
export { startDockerd } from "./dockerd.js";
export type { FakeMcpCall, FakeMcpServer, FakeMcpServerOptions } from "./fake-mcp-server.js";
export { startFakeMcpServer } from "./fake-mcp-server.js";
export type { NatsCluster } from "./nats-cluster.js";
export { startNatsCluster } from "./nats-cluster.js";
export type { NatsServer } from "./nats-server.js";
export { startNatsServer } from "./nats-server.js";
export type { ResetProxy } from "./reset-proxy.js";
export { startResetProxy } from "./reset-proxy.js";
export { createTestCertificates } from "./tls-certs.js";
