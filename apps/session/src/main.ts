import { ExecutorRegistryService, SessionService } from "@reins/proto";
import {
  announceListening,
  bindService,
  createAuthInterceptor,
  createLogger,
  createMetricsRegistry,
  createTokenVerifier,
  loadConfigOrExit,
  onShutdownSignal,
  redactUrls,
  ServingStatus,
  startMetricsListener,
  startOrExit,
  startServer,
  startTracing,
} from "@reins/service-kit";
import {
  createExecutorRegistryServiceImpl,
  createSessionServiceImpl,
  createSessionStore,
  executorRegistryPolicy,
  sessionServicePolicy,
} from "@reins/session-store";
import { loadConfig } from "./config.js";
import { createSessionMetrics } from "./metrics.js";

const log = createLogger("reins-session");
// Before anything else, so every span of the daemon is exported (OTEL_* variables; off unless set).
const tracing = await loadConfigOrExit(log, () => startTracing("reins-session"));

const config = await loadConfigOrExit(log, loadConfig);
const registry = createMetricsRegistry();
const metrics = createSessionMetrics(registry);
// Up before NATS, so a daemon stuck waiting for it shows reins_session_nats_connected 0.
const metricsListener = config.metricsListen
  ? await startOrExit(log, () => startMetricsListener({ registry, ...config.metricsListen }))
  : undefined;

// NATS first: the daemon only announces itself once it can serve. nats.js waits
// for a server that is not up yet, so a stack may start in any order.
log.info({ nats: redactUrls(config.store.servers ?? "") }, "connecting to NATS");
const store = await startOrExit(log, () =>
  createSessionStore(config.store, (msg) => log.info({ component: "store" }, msg), metrics),
);
metrics.observeStore(store);
log.info(
  { stream: store.names.stream, bucket: store.names.bucket, executors: store.names.executorsBucket },
  "session store ready",
);

const server = await startOrExit(log, () =>
  startServer({
    ...config.listen,
    services: [
      bindService(SessionService, createSessionServiceImpl(store)),
      bindService(ExecutorRegistryService, createExecutorRegistryServiceImpl(store.executors)),
    ],
    corsOrigins: config.corsOrigins,
    metrics: registry,
    // Roles per RPC and tenant confinement: see sessionServicePolicy, service/access.ts and
    // executorRegistryPolicy in @reins/session-store. The two services' method names are distinct.
    interceptors: config.tokens
      ? [
          createAuthInterceptor({
            verify: createTokenVerifier(config.tokens),
            methods: { ...sessionServicePolicy, ...executorRegistryPolicy },
          }),
        ]
      : [],
    ...(config.tls ? { tls: config.tls } : {}),
    // Room above the largest batch, so an oversized batch gets the store's precise
    // INVALID_ARGUMENT rather than a transport-level size error.
    readMaxBytes: (config.store.maxMessageBytes ?? 1024 * 1024) + 1024 * 1024,
  }),
);

// Health follows NATS: NOT_SERVING while disconnected, so load balancers and
// `grpc_health_probe` route around a replica that can only answer UNAVAILABLE.
const setHealth = (ready: boolean) => {
  const status = ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  server.health.set("", status);
  server.health.set(SessionService.typeName, status);
  server.health.set(ExecutorRegistryService.typeName, status);
};
setHealth(store.ready);
store.onReadyChange(setHealth);

announceListening(log, server.url, {
  auth: config.tokens !== undefined,
  tls: config.tls === undefined ? false : config.tls.requireClientCert ? "mtls" : true,
  cors: config.corsOrigins,
  ...(metricsListener ? { metrics: metricsListener.url } : {}),
});
onShutdownSignal(
  async () => {
    // Open streams would hold the drain for its whole grace period: end them
    // first, and give their final status a turn of the event loop to be written
    // before the server starts closing connections.
    await store.endStreams();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await server.close();
    await store.close();
    await tracing.shutdown();
    await metricsListener?.close();
  },
  (msg) => log.info(msg),
);
