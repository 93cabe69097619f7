import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { startNatsServer } from "./nats-server.js";

describe("startNatsServer", () => {
  it("keeps acked JetStream messages across SIGKILL and restart", async () => {
    await using server = await startNatsServer();
    let nc = await connect({ servers: server.url });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: "T", subjects: ["t.>"] });
    const ack = await nc.jetstream().publish("t.a", new TextEncoder().encode("hello"));
    await nc.close();

    await server.restart();
    nc = await connect({ servers: server.url });
    const msg = await (await nc.jetstreamManager()).streams.getMessage("T", { seq: ack.seq });
    expect(new TextDecoder().decode(msg.data)).toBe("hello");
    await nc.close();
  });
});
