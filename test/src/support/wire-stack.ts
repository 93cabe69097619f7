import { type Daemon, type NatsServer, testImage } from "@reins/testkit";
import { ownedFixture, startDaemonStack } from "./daemon-stack.js";

/** The three daemons, by name, for suites that call each of them on the wire and never run a tool or a model. */
export interface WireStack extends AsyncDisposable {
  readonly nats: NatsServer;
  readonly session: Daemon;
  readonly executor: Daemon;
  readonly harness: Daemon;
  /** Bearer token the executor accepts. */
  readonly executorToken: string;
}

export function startWireStack(): Promise<WireStack> {
  return ownedFixture(async (own) => {
    const stack = own(
      await startDaemonStack({
        executorToken: "wire-test-executor-token",
        // Nothing here runs a tool: no warm containers, and the small image if one starts.
        executorEnv: { REINS_EXECUTOR_POOL_SIZE: "0", REINS_SANDBOX_IMAGE: testImage() },
      }),
    );
    return {
      nats: stack.nats as NatsServer,
      session: stack.session,
      executor: stack.executor(),
      harness: stack.harness(),
      executorToken: stack.executorToken,
    };
  });
}
