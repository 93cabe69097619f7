import { create, toBinary } from "@bufbuild/protobuf";
import { TextDeltaSchema } from "@reins/proto";
import { startNatsServer } from "@reins/testkit";
import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { subscribeDeltas } from "./live-deltas.js";

// A real nats-server. The harness publishes a session's text on
// `<prefix>.deltas.<id>` (deltaSubject in @reins/harness-core, checked there on
// the wire); `reins watch` must listen on the same subject for its deployment.

describe("live text for reins watch", () => {
  it("listens on the subject of its stream prefix only", async () => {
    await using nats = await startNatsServer();
    const heardByAcme: string[] = [];
    const heardByDefault: string[] = [];
    const closeAcme = await subscribeDeltas(nats.url, "s1", (d) => heardByAcme.push(d.text), { prefix: "ACME" });
    const closeDefault = await subscribeDeltas(nats.url, "s1", (d) => heardByDefault.push(d.text));
    const nc = await connect({ servers: nats.url });
    try {
      expect(closeAcme).toBeDefined();
      const delta = (text: string) => toBinary(TextDeltaSchema, create(TextDeltaSchema, { sessionId: "s1", text }));
      nc.publish("acme.deltas.s1", delta("for acme"));
      nc.publish("reins.deltas.s1", delta("for reins"));
      nc.publish("other.deltas.s1", delta("for another deployment"));
      await nc.flush();
      await expect.poll(() => heardByAcme.length + heardByDefault.length).toBe(2);
      expect(heardByAcme).toEqual(["for acme"]);
      expect(heardByDefault).toEqual(["for reins"]);
    } finally {
      await nc.close();
      await closeAcme?.();
      await closeDefault?.();
    }
  });
});
