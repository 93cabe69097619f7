import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { createExecutor } from "@reins/executor-core";
import { ExecutorRegistryService } from "@reins/proto";
import { createBearerInterceptor, type Logger } from "@reins/service-kit";
import { catalogDigest } from "./catalog-digest.js";
import { createRegistration, type Registration } from "./registration.js";
import type { RegistrationConfig } from "./registration-config.js";

type Executor = ReturnType<typeof createExecutor>;

export interface RegisterExecutorOptions {
  readonly config: RegistrationConfig;
  readonly executor: Executor;
  /** Calls it runs at once: its capacity. */
  readonly maxConcurrent: number;
  /** The URL the server listens on, advertised when no other is configured. */
  readonly listenUrl: string;
  /** The engine's runtimes, when it answered at startup. */
  readonly runtimes: readonly string[] | undefined;
  readonly log: Logger;
}

// The registry's rules for runtimes: an engine's odd runtime name must not make
// every heartbeat invalid, so names it would refuse are left out.
const maxRuntimes = 16;
const runtimePattern = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Registers the executor in the registry with its live load, and sends the
 * first heartbeat (see Registration.start for what a refusal does).
 */
export async function registerExecutor(options: RegisterExecutorOptions): Promise<Registration> {
  const { config, executor, log } = options;
  const client = createClient(
    ExecutorRegistryService,
    createGrpcTransport({
      baseUrl: config.registryUrl,
      interceptors: [createBearerInterceptor(config.token)],
      nodeOptions: config.tls,
    }),
  );
  const digest = catalogDigest(executor.catalog);
  const tools = executor.catalog.tools.map((t) => t.name);
  let runtimes = options.runtimes;
  const registration = createRegistration({
    client,
    id: config.id,
    log,
    report: async () => {
      // An engine that was down at startup says what it has once it is back.
      runtimes ??= (await executor.checkRuntimes().catch(() => undefined))?.names;
      const stats = executor.stats();
      return {
        address: config.advertiseUrl ?? options.listenUrl,
        catalogDigest: digest,
        tools,
        runtimes: (runtimes ?? []).filter((r) => runtimePattern.test(r)).slice(0, maxRuntimes),
        labels: { ...config.labels },
        capacity: options.maxConcurrent,
        runningCalls: stats.running,
        queuedCalls: stats.queued,
      };
    },
  });
  await registration.start();
  return registration;
}
