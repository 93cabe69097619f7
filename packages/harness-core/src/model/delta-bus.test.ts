import { fromBinary } from "@bufbuild/protobuf";
import { type TextDelta, TextDeltaSchema } from "@reins/proto";
import { startNatsServer } from "@reins/testkit";
import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { createNatsDeltaBus, deltaSubject } from "./delta-bus.js";

// A real nats-server: the subject is what a viewer outside this package (the
// CLI's `reins watch`) subscribes to, so it is checked on the wire.

describe("the NATS delta bus", () => {
  it("publishes on <prefix>.deltas.<id>, so deployments sharing a NATS keep their text apart", async () => {
    await using nats = await startNatsServer();
    const nc = await connect({ servers: nats.url });
    try {
      expect(deltaSubject("s1")).toBe("reins.deltas.s1");
      expect(deltaSubject("s1", "ACME")).toBe("acme.deltas.s1");
      const seen: string[] = [];
      const wire = nc.subscribe("*.deltas.s1", {
        callback: (_, msg) => seen.push(`${msg.subject} ${fromBinary(TextDeltaSchema, msg.data).text}`),
      });
      const acme = createNatsDeltaBus(nc, { prefix: "ACME" });
      const standard = createNatsDeltaBus(nc);
      const heardByAcme: string[] = [];
      const heardByStandard: string[] = [];
      const stopAcme = await acme.subscribe("s1", (delta: TextDelta) => heardByAcme.push(delta.text));
      const stopStandard = await standard.subscribe("s1", (delta: TextDelta) => heardByStandard.push(delta.text));
      acme.publish({ sessionId: "s1", turn: 1, index: 0, text: "for acme", thinking: false, attempt: 1 });
      standard.publish({ sessionId: "s1", turn: 1, index: 0, text: "for reins", thinking: false, attempt: 1 });
      await expect.poll(() => seen.length + heardByAcme.length + heardByStandard.length).toBe(4);
      expect(heardByAcme).toEqual(["for acme"]);
      expect(heardByStandard).toEqual(["for reins"]);
      expect(seen.sort()).toEqual(["acme.deltas.s1 for acme", "reins.deltas.s1 for reins"]);
      stopAcme();
      stopStandard();
      wire.unsubscribe();
    } finally {
      await nc.close();
    }
  });
});
