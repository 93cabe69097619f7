import { type Daemon, type NatsServer, startDaemon, startNatsServer } from "@reins/testkit";

/** The three daemons started for real from their built dist/, with the NATS server they need. */
export interface Stack extends AsyncDisposable {
  readonly nats: NatsServer;
  readonly session: Daemon;
  readonly executor: Daemon;
  readonly harness: Daemon;
  /** Bearer token the executor accepts. */
  readonly executorToken: string;
}

/**
 * Starts nats-server, then the session and executor daemons, then the harness pointing at
 * both. Everything started is stopped again if a later start fails, and on dispose.
 */
export async function startStack(): Promise<Stack> {
  const started: AsyncDisposable[] = [];
  const keep = <T extends AsyncDisposable>(resource: T): T => {
    started.push(resource);
    return resource;
  };
  const dispose = async () => {
    const errors: unknown[] = [];
    for (const resource of started.reverse()) {
      try {
        await resource[Symbol.asyncDispose]();
      } catch (err) {
        errors.push(err);
      }
    }
    started.length = 0;
    if (errors.length > 0) throw new AggregateError(errors, "stopping the stack failed");
  };
  try {
    const executorToken = "wire-test-executor-token";
    const nats = keep(await startNatsServer());
    // Started side by side; allSettled so that neither can outlive a failure of the other.
    const [sessionStart, executorStart] = await Promise.allSettled([
      startDaemon({
        app: "session",
        env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url },
      }),
      startDaemon({
        app: "executor",
        env: {
          REINS_EXECUTOR_LISTEN: "127.0.0.1:0",
          REINS_EXECUTOR_TOKEN: executorToken,
          DOCKER_HOST: process.env.DOCKER_HOST,
          // Nothing here runs a tool: no warm containers, and the small image if one starts.
          REINS_EXECUTOR_POOL_SIZE: "0",
          REINS_SANDBOX_IMAGE: "reins/sandbox-tiny",
        },
      }),
    ]);
    if (sessionStart.status === "fulfilled") keep(sessionStart.value);
    if (executorStart.status === "fulfilled") keep(executorStart.value);
    if (sessionStart.status === "rejected") throw sessionStart.reason;
    if (executorStart.status === "rejected") throw executorStart.reason;
    const session = sessionStart.value;
    const executor = executorStart.value;
    const harness = keep(
      await startDaemon({
        app: "harness",
        env: {
          REINS_HARNESS_LISTEN: "127.0.0.1:0",
          REINS_SESSION_URL: session.url,
          REINS_EXECUTOR_URL: executor.url,
          REINS_EXECUTOR_TOKEN: executorToken,
          REINS_NATS_URL: nats.url,
          // No model is called here; a closed port makes any accidental call fail fast.
          ANTHROPIC_API_KEY: "wire-test-key",
          ANTHROPIC_BASE_URL: "http://127.0.0.1:9",
        },
      }),
    );
    return { nats, session, executor, harness, executorToken, [Symbol.asyncDispose]: dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}
