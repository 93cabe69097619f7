import { fromBinary } from "@bufbuild/protobuf";
import { type TextDelta, TextDeltaSchema } from "@reins/proto";
import { connect } from "nats";

/**
 * Subscribes to a session's live model text on core NATS (subject
 * `reins.deltas.<id>`, binary TextDelta), as the harness publishes it. Live
 * text is best effort: when NATS cannot be reached this resolves undefined and
 * the viewer shows each answer when its agent.message arrives.
 */
export async function subscribeDeltas(
  natsUrl: string,
  sessionId: string,
  onDelta: (delta: TextDelta) => void,
): Promise<(() => Promise<void>) | undefined> {
  try {
    const nc = await connect({ servers: natsUrl, timeout: 2_000, maxReconnectAttempts: 3 });
    nc.subscribe(`reins.deltas.${sessionId}`, {
      callback: (err, msg) => {
        if (err) return;
        try {
          onDelta(fromBinary(TextDeltaSchema, msg.data));
        } catch {
          // A malformed delta is skipped: the agent.message has the text.
        }
      },
    });
    await nc.flush();
    return () => nc.close();
  } catch {
    return undefined;
  }
}
