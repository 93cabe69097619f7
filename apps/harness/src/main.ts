import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  createAnthropicAdapter,
  createExecutorDirectory,
  createExecutorPool,
  createHarnessServiceImpl,
  createHostTools,
  createMcpTools,
  createNatsDeltaBus,
  createPlacement,
  createReschedulePolicy,
  createSessionRunner,
  createWakeKeeper,
  createWakeLeaseTable,
  createWakeQueue,
  harnessServicePolicy,
  withHostTools,
  withMcpTools,
  withStreamedAppends,
} from "@reins/harness-core";
import { ExecutorRegistryService, HarnessService, SessionService } from "@reins/proto";
import {
  announceListening,
  bindService,
  createAuthInterceptor,
  createBearerInterceptor,
  createGrpcClientTransport,
  createLogger,
  createMetricsRegistry,
  createTokenVerifier,
  createTraceContextInterceptor,
  loadConfigOrExit,
  onShutdownSignal,
  redactUrl,
  redactUrls,
  startMetricsListener,
  startOrExit,
  startServer,
  startTracing,
} from "@reins/service-kit";
import { connect } from "nats";
import { loadConfig } from "./config.js";
import { allHooks, crashHook, stallHook } from "./fault-hook.js";
import { createHarnessMetrics } from "./metrics.js";

const log = createLogger("reins-harness");
// Before anything else, so every span of the daemon is exported (OTEL_* variables; off unless set).
const tracing = await loadConfigOrExit(log, () => startTracing("reins-harness"));
const { config, onAppended } = await loadConfigOrExit(log, () => {
  const config = loadConfig(process.env);
  return { config, onAppended: allHooks(stallHook(config.stallAfter, log), crashHook(config.crashAfter, log)) };
});
await startOrExit(log, async () => {
  const registry = createMetricsRegistry();
  const metrics = createHarnessMetrics(registry, { models: config.metricsModels });
  const metricsListener = config.metricsListen
    ? await startMetricsListener({ registry, ...config.metricsListen })
    : undefined;
  if (!config.anthropic.apiKey) log.warn("ANTHROPIC_API_KEY is not set: model requests will fail to authenticate");

  const nc = await connect({ servers: config.natsServers, name: "reins-harness", maxReconnectAttempts: -1 }).catch(
    (err: unknown) => {
      throw new Error(`cannot reach NATS at ${redactUrls(config.natsServers)}: ${(err as Error).message}`);
    },
  );
  // Appends are on the critical path of every turn: they share one long-lived
  // stream (streamed-appends.ts); reads are unary calls, served without
  // connect-node's per-call machinery (grpc-client-transport.ts).
  const sessions = withStreamedAppends(
    createClient(
      SessionService,
      createGrpcClientTransport({
        baseUrl: config.sessionUrl,
        interceptors: [createBearerInterceptor(config.sessionToken), createTraceContextInterceptor()],
        nodeOptions: config.sessionTls,
        // The session service is a near neighbour: gzipping each 1000-event page a
        // Wake reads costs both ends more CPU than sending it as it is.
        acceptCompression: [],
      }),
    ),
  );
  // Registry mode: the executor registry on the session service, read with the harness's token.
  const directory =
    config.placement.mode === "registry"
      ? createExecutorDirectory({
          registry: createClient(
            ExecutorRegistryService,
            createGrpcTransport({
              baseUrl: config.sessionUrl,
              interceptors: [createBearerInterceptor(config.sessionToken)],
              nodeOptions: config.sessionTls,
            }),
          ),
          cacheMs: config.placement.cacheMs,
        })
      : undefined;
  const placement = directory
    ? createPlacement({
        directory,
        onPlaced: (ms, placed) =>
          log.info(
            {
              executor: placed.executorId,
              previous: placed.previousExecutorId || undefined,
              ms: Number(ms.toFixed(2)),
            },
            `session placed: ${placed.reason}`,
          ),
      })
    : undefined;
  const executorPool = createExecutorPool({
    ...(directory ? { isRegistered: directory.isRegistered } : {}),
    defaultAddress: config.executorUrl,
    allowedAddresses: config.executorAllowedUrls,
    token: config.executorToken,
    transport: (address, interceptors) =>
      createGrpcTransport({ baseUrl: address, interceptors, nodeOptions: config.executorTls }),
  });
  // Host tools run here, beside the executors: a host tool shadows an executor tool of the same name.
  const withHost =
    config.hostTools.length === 0
      ? executorPool
      : withHostTools(executorPool, createHostTools(config.hostTools), {
          onShadowed: (executor, tool) => log.warn({ executor, tool }, "a host tool shadows this executor tool"),
        });
  if (config.hostTools.length > 0) log.info({ hostTools: config.hostTools.map((t) => t.name) }, "host tools");
  // MCP servers' tools, called from here too: routed by their mcp__<server>__ prefix before anything else.
  const mcpTools =
    config.mcpServers.length === 0
      ? undefined
      : createMcpTools(config.mcpServers, {
          onSkipped: (server, tool) =>
            log.warn({ server, tool }, "an MCP tool whose name the Messages API would refuse is not offered"),
          onListFailed: (server, reason) => log.warn({ server, reason }, "an MCP server cannot be listed"),
        });
  const executors = mcpTools ? withMcpTools(withHost, mcpTools) : withHost;
  if (mcpTools) log.info({ mcpServers: config.mcpServers.map((s) => `${s.name} ${s.origin}`) }, "MCP servers");
  const model = createAnthropicAdapter({ ...config.anthropic, logger: log.child({ component: "anthropic-sdk" }) });
  const deltas = createNatsDeltaBus(nc, { prefix: config.streamPrefix });
  // In queue mode a worker thread keeps the wakes' in-progress acks going while the event loop lags.
  const keeper =
    config.wake.mode === "queue"
      ? createWakeKeeper({
          servers: config.natsServers,
          ackWaitMs: config.wake.ackWaitMs,
          // Room for every session this replica may hold, and slots reused long after their release.
          capacity: Math.max(4096, 2 * config.wake.concurrency),
        })
      : undefined;
  const leases = createWakeLeaseTable(config.wake.ackWaitMs, Date.now, keeper);
  metrics.observeLeases(() => leases.size);
  const runner = createSessionRunner({
    sessions,
    beforeToolCall: (sessionId, toolUseId) => leases.check(sessionId, toolUseId),
    model,
    executors,
    deltas,
    log,
    onAppended,
    placement,
    reschedule: createReschedulePolicy(config.reschedule),
    metrics,
    onError: (sessionId, err) => log.error({ sessionId, err }, "run failed; the session stays resumable by Wake"),
  });
  // Queue mode: every replica pulls wakes from one durable consumer; direct: this process runs what it records.
  const wakes =
    config.wake.mode === "queue"
      ? createWakeQueue({
          nc,
          runner,
          sessions,
          leases,
          prefix: config.wake.prefix,
          ackWaitMs: config.wake.ackWaitMs,
          replicas: config.wake.replicas,
          concurrency: config.wake.concurrency,
          log,
          metrics,
        })
      : undefined;
  await wakes?.start();
  const closing = new AbortController();
  const server = await startServer({
    ...config.listen,
    services: [
      bindService(
        HarnessService,
        createHarnessServiceImpl({
          sessions,
          executors,
          runner: wakes ?? runner,
          deltas,
          defaultModel: config.defaultModel,
          closing: closing.signal,
          placement,
          metrics,
        }),
      ),
    ],
    // Roles per RPC and tenant confinement: see harnessServicePolicy and access.ts in @reins/harness-core.
    interceptors: config.tokens
      ? [createAuthInterceptor({ verify: createTokenVerifier(config.tokens), methods: harnessServicePolicy })]
      : [],
    ...(config.tls ? { tls: config.tls } : {}),
    corsOrigins: config.corsOrigins,
    metrics: registry,
  });
  announceListening(log, server.url, {
    session: redactUrl(config.sessionUrl),
    executor: redactUrl(config.executorUrl),
    placement: config.placement.mode,
    auth: config.tokens !== undefined,
    tls: config.tls === undefined ? false : config.tls.requireClientCert ? "mtls" : true,
    ...(metricsListener ? { metrics: metricsListener.url } : {}),
  });
  onShutdownSignal(
    async () => {
      // Runs stop writing and stay resumable; viewers' streams end; then NATS drains.
      closing.abort();
      await (wakes ?? runner).close();
      await keeper?.close();
      await server.close();
      await sessions.close();
      await mcpTools?.close();
      await nc.drain();
      await tracing.shutdown();
      await metricsListener?.close();
    },
    (msg) => log.info(msg),
  );
});
