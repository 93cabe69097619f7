import { startNatsServer } from "@reins/testkit";
import { connect } from "nats";
import { describe, expect, it } from "vitest";
import type { SessionClient } from "../log/index.js";
import type { ModelAdapter } from "../model/index.js";
import type { ExecutorPool } from "../tools/index.js";
import { createSessionRunner } from "./session-runner.js";
import { createWakeLeaseTable } from "./wake-lease.js";
import { createWakeQueue, wakeNames } from "./wake-queue.js";

describe("the wake queue's consumer", { timeout: 30_000 }, () => {
  it("takes a longer ack wait from a replica, never a shorter one, and says which one the server keeps", async () => {
    await using nats = await startNatsServer();
    const nc = await connect({ servers: nats.url });
    try {
      const warnings: string[] = [];
      const log = {
        info: () => undefined,
        warn: (_: object, msg?: string) => warnings.push(msg ?? ""),
        error: () => undefined,
      };
      // No wake is published here: the session service, the model and the executors are never called.
      const sessions = {} as SessionClient;
      const runner = createSessionRunner({ sessions, model: {} as ModelAdapter, executors: {} as ExecutorPool });
      const startQueue = async (ackWaitMs: number) => {
        const queue = createWakeQueue({
          nc,
          runner,
          sessions,
          leases: createWakeLeaseTable(ackWaitMs),
          ackWaitMs,
          log,
        });
        await queue.start();
        await queue.close();
      };
      const jsm = await nc.jetstreamManager();
      const { stream, consumer } = wakeNames();
      const serverAckWait = async () => ((await jsm.consumers.info(stream, consumer)).config.ack_wait ?? 0) / 1e6;

      await startQueue(30_000);
      expect(await serverAckWait()).toBe(30_000);
      expect(warnings).toEqual([]);
      // A replica with a shorter ack wait leaves the longer one: a replica still
      // counting its leases by 30 s must not have its sessions handed on after 3.
      await startQueue(3_000);
      expect(await serverAckWait()).toBe(30_000);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("the wake consumer's ack wait is 30000 ms, longer than this replica's");
      await startQueue(60_000);
      expect(await serverAckWait()).toBe(60_000);
      expect(warnings).toHaveLength(1);
    } finally {
      await nc.close();
    }
  });
});
