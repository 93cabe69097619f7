import { fromBinary } from "@bufbuild/protobuf";
import { type TextDelta, TextDeltaSchema } from "@reins/proto";
import { connect } from "nats";

export interface DeltaSubscription {
  /** The deployment's stream prefix (REINS_STREAM_PREFIX), as the harness has it. Default "REINS". */
  readonly prefix?: string | undefined;
}

/**
 * Subscribes to a session's live model text on core NATS (subject
 * `<prefix>.deltas.<id>`, prefix lower-cased, binary TextDelta), as the
 * harness publishes it (deltaSubject in @reins/harness-core). Live text is best
 * effort: when NATS cannot be reached this resolves undefined and the viewer
 * shows each answer when its agent.message arrives.
 */
export async function subscribeDeltas(
  natsUrl: string,
  sessionId: string,
  onDelta: (delta: TextDelta) => void,
  options: DeltaSubscription = {},
): Promise<(() => Promise<void>) | undefined> {
  try {
    const nc = await connect({ servers: natsUrl, timeout: 2_000, maxReconnectAttempts: 3 });
    nc.subscribe(`${(options.prefix || "REINS").toLowerCase()}.deltas.${sessionId}`, {
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
