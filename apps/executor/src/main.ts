import { createDockerClient, createExecutor, createExecutorServiceImpl, loadCatalog } from "@reins/executor-core";
import { ExecutorService } from "@reins/proto";
import {
  announceListening,
  bindService,
  createAuthInterceptor,
  createLogger,
  createMetricsRegistry,
  createTokenVerifier,
  loadConfigOrExit,
  onShutdownSignal,
  startMetricsListener,
  startOrExit,
  startServer,
  startTracing,
} from "@reins/service-kit";
import { loadConfig } from "./config.js";
import { createExecutorMetrics } from "./metrics.js";
import { type Registration, RegistrationRefusedError, registerExecutor } from "./registration/index.js";

const log = createLogger("reins-executor");
// Before anything else, so every span of the daemon is exported (OTEL_* variables; off unless set).
const tracing = await loadConfigOrExit(log, () => startTracing("reins-executor"));

const config = await loadConfigOrExit(log, () => loadConfig(process.env));
const catalog = await loadConfigOrExit(log, () =>
  loadCatalog(config.toolsConfig, config.image ? { image: config.image } : {}),
);
const docker = createDockerClient(config.dockerHost);
const registry = createMetricsRegistry();
const metrics = createExecutorMetrics(registry, config);

const executor = createExecutor({
  docker,
  catalog,
  daemonId: config.daemonId,
  log,
  metrics,
  maxConcurrent: config.maxConcurrent,
  maxQueued: config.maxQueued,
  ...(config.poolSize === undefined ? {} : { poolSize: config.poolSize }),
  ...(config.workspaceDir === undefined ? {} : { workspaceDir: config.workspaceDir }),
});
// A tool whose runtime the engine lacks is a configuration error (exit 2) that names it.
const engine = await loadConfigOrExit(log, () => executor.checkRuntimes());
// Docker being down is not fatal: calls answer with an error string until it is back.
await executor.start();
metrics.observeLoad(() => executor.stats());
const metricsListener = config.metricsListen
  ? await startOrExit(log, () => startMetricsListener({ registry, ...config.metricsListen }))
  : undefined;

// Only the harness calls the executor: other roles' tokens get PERMISSION_DENIED.
const verify = createTokenVerifier(config.tokens);
const server = await startOrExit(log, () =>
  startServer({
    ...config.listen,
    services: [bindService(ExecutorService, createExecutorServiceImpl(executor))],
    interceptors: [createAuthInterceptor({ verify, roles: ["harness"] })],
    readMaxBytes: config.maxRequestBytes,
    metrics: registry,
    // The executor kills what is still running at its grace; the server keeps the
    // connections a little longer so those calls still get their answer.
    shutdownGraceMs: config.shutdownGraceMs + 2_000,
    ...(config.tls ? { tls: config.tls } : {}),
  }),
);

// Registered before it announces itself: a refused registration (unknown token, a
// token bound to another id) is a configuration error, exit 2, not a host that
// serves while no harness can find it. An unreachable registry is not fatal.
let registration: Registration | undefined;
if (config.registration) {
  const options = {
    config: config.registration,
    executor,
    maxConcurrent: config.maxConcurrent,
    listenUrl: server.url,
    runtimes: engine?.names,
    log,
  };
  try {
    registration = await registerExecutor(options);
  } catch (err) {
    if (!(err instanceof RegistrationRefusedError)) throw err;
    await Promise.all([executor.close(0), server.close()]);
    // Logged, and exit 2, like any invalid configuration: a restart cannot help.
    await loadConfigOrExit(log, () => Promise.reject(err));
  }
}

announceListening(log, server.url, {
  daemonId: config.daemonId,
  tools: catalog.tools.map((t) => t.name),
  runtimes: [...new Set(catalog.tools.map((t) => executor.runtimeOf(t) ?? "engine default"))],
  tls: config.tls !== undefined,
  ...(config.registration
    ? {
        registry: config.registration.registryUrl,
        executor: config.registration.id,
        incarnation: registration?.incarnation,
      }
    : {}),
  ...(metricsListener ? { metrics: metricsListener.url } : {}),
});

onShutdownSignal(
  async () => {
    // Out of the registry first, so no new session is placed here while calls drain.
    await registration?.stop();
    await Promise.all([executor.close(config.shutdownGraceMs), server.close()]);
    await tracing.shutdown();
    await metricsListener?.close();
    log.info({ removing: executor.stats().removing }, "stopped");
  },
  (msg) => log.info(msg),
);
