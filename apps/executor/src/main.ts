import { createDockerClient, createExecutor, createExecutorServiceImpl, loadCatalog } from "@reins/executor-core";
import { ExecutorService } from "@reins/proto";
import {
  announceListening,
  bindService,
  createAuthInterceptor,
  createLogger,
  createTokenVerifier,
  loadConfigOrExit,
  onShutdownSignal,
  startOrExit,
  startServer,
} from "@reins/service-kit";
import { loadConfig } from "./config.js";

const log = createLogger("reins-executor");

const config = await loadConfigOrExit(log, () => loadConfig(process.env));
const catalog = await loadConfigOrExit(log, () =>
  loadCatalog(config.toolsConfig, config.image ? { image: config.image } : {}),
);
const docker = createDockerClient(config.dockerHost);

const executor = createExecutor({
  docker,
  catalog,
  daemonId: config.daemonId,
  log,
  maxConcurrent: config.maxConcurrent,
  maxQueued: config.maxQueued,
  ...(config.poolSize === undefined ? {} : { poolSize: config.poolSize }),
  ...(config.workspaceDir === undefined ? {} : { workspaceDir: config.workspaceDir }),
});
// A tool whose runtime the engine lacks is a configuration error (exit 2) that names it.
await loadConfigOrExit(log, () => executor.checkRuntimes());
// Docker being down is not fatal: calls answer with an error string until it is back.
await executor.start();

// Only the harness calls the executor: other roles' tokens get PERMISSION_DENIED.
const verify = createTokenVerifier(config.tokens);
const server = await startOrExit(log, () =>
  startServer({
    ...config.listen,
    services: [bindService(ExecutorService, createExecutorServiceImpl(executor))],
    interceptors: [createAuthInterceptor({ verify, roles: ["harness"] })],
    readMaxBytes: config.maxRequestBytes,
    // The executor kills what is still running at its grace; the server keeps the
    // connections a little longer so those calls still get their answer.
    shutdownGraceMs: config.shutdownGraceMs + 2_000,
    ...(config.tls ? { tls: config.tls } : {}),
  }),
);

announceListening(log, server.url, {
  daemonId: config.daemonId,
  tools: catalog.tools.map((t) => t.name),
  runtimes: [...new Set(catalog.tools.map((t) => executor.runtimeOf(t) ?? "engine default"))],
  tls: config.tls !== undefined,
});

onShutdownSignal(
  async () => {
    await Promise.all([executor.close(config.shutdownGraceMs), server.close()]);
    log.info({ removing: executor.stats().removing }, "stopped");
  },
  (msg) => log.info(msg),
);
