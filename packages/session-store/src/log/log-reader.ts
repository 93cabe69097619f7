import {
  type ConsumerMessages,
  DeliverPolicy,
  ErrorCode,
  type JetStreamClient,
  type JetStreamManager,
  NatsError,
  type StoredMsg,
} from "nats";
import { StoreUnavailableError } from "../errors.js";
import { receiveBatch } from "./batch-codec.js";
import { firstSeqOf, lastSeqOf, type StoredBatch } from "./session-state.js";

export type { StoredBatch };

/** Reads a session subject's batches from the events stream. */
export interface LogReader {
  /** The subject's last batch, or undefined when the subject is empty. */
  last(subject: string): Promise<StoredBatch | undefined>;
  /** The batch at a stream sequence, or undefined if it is gone or on another subject. */
  at(subject: string, streamSeq: number): Promise<StoredBatch | undefined>;
  /** The subject's first batch at or after a stream sequence, or undefined when there is none. */
  firstFrom(subject: string, streamSeq: number): Promise<StoredBatch | undefined>;
  /**
   * Delivers the subject's batches from `fromStreamSeq` on, in order, until
   * `onBatch` returns false or the subject has no more.
   */
  scan(subject: string, fromStreamSeq: number, onBatch: (batch: StoredBatch) => boolean): Promise<void>;
  /**
   * The subject's batch holding session seq `seq`, given its last batch `last`;
   * undefined when no batch holds it. Bisects the stream's sequence numbers with
   * direct gets: at most about log2(last.streamSeq) + 1 reads however long the
   * session's log is, and none of them from its start.
   */
  seek(subject: string, seq: number, last: StoredBatch): Promise<StoredBatch | undefined>;
}

type DirectQuery = { last_by_subj: string } | { seq: number } | { seq: number; next_by_subj: string };

interface DirectGet {
  getMessage(stream: string, query: DirectQuery): Promise<StoredMsg>;
}

export function createLogReader(options: {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  requestTimeoutMs: number;
}): LogReader {
  const { js, jsm, stream, requestTimeoutMs } = options;

  // nats.js 2.29 implements direct gets but leaves them out of the public
  // JetStreamManager type.
  const directApi = (jsm as unknown as { direct: DirectGet }).direct;
  const direct = async (query: DirectQuery) => {
    try {
      return await directApi.getMessage(stream, query);
    } catch (err) {
      if (err instanceof NatsError && err.code === ErrorCode.JetStream404NoMessages) return undefined;
      throw err;
    }
  };

  const firstFrom = async (subject: string, streamSeq: number) => {
    const msg = await direct({ seq: Math.max(1, streamSeq), next_by_subj: subject });
    return msg && { streamSeq: msg.seq, wire: receiveBatch(msg.data), size: msg.data.length };
  };

  return {
    async last(subject) {
      const msg = await direct({ last_by_subj: subject });
      return msg && { streamSeq: msg.seq, wire: receiveBatch(msg.data), size: msg.data.length };
    },

    async at(subject, streamSeq) {
      const msg = await direct({ seq: streamSeq });
      if (!msg || msg.subject !== subject) return undefined;
      return { streamSeq: msg.seq, wire: receiveBatch(msg.data), size: msg.data.length };
    },

    firstFrom,

    async seek(subject, seq, last) {
      if (seq < 1 || seq > lastSeqOf(last)) return undefined;
      if (firstSeqOf(last) <= seq) return last;
      // The batch's stream sequence is in [lo, hi). A probe returns the subject's
      // first batch at or after `mid`: before the seq, the batch is after it; past
      // the seq, the batch is before `mid` (session seqs grow with stream order).
      let lo = 1;
      let hi = last.streamSeq;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        const probe = await firstFrom(subject, mid);
        if (!probe) return undefined; // purged meanwhile
        if (lastSeqOf(probe) < seq) lo = probe.streamSeq + 1;
        else if (firstSeqOf(probe) <= seq) return probe;
        else hi = mid;
      }
      return undefined;
    },

    async scan(subject, fromStreamSeq, onBatch) {
      // An ordered consumer filtered on ONE subject string (nats-server 2.9 has
      // no filter_subjects) replays the subject's messages in stream order and
      // recreates itself on any gap.
      const consumer = await js.consumers.get(stream, {
        filterSubjects: subject,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(1, fromStreamSeq),
      });
      let messages: ConsumerMessages | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          let read = 0;
          let watchdog: NodeJS.Timeout | undefined;
          const finish = (err?: Error) => {
            clearTimeout(watchdog);
            messages?.stop();
            if (err) reject(err);
            else resolve();
          };
          // A read that stops making progress (NATS went away mid-scan) fails
          // within the request timeout instead of waiting for reconnection.
          const arm = () => {
            clearTimeout(watchdog);
            watchdog = setTimeout(
              () => finish(new StoreUnavailableError(`reading ${subject} made no progress for ${requestTimeoutMs} ms`)),
              requestTimeoutMs,
            );
          };
          arm();
          consumer
            .consume({
              max_messages: 1_000,
              callback: (m) => {
                if (read === -1) return;
                read += 1;
                arm();
                let more: boolean;
                try {
                  more = onBatch({ streamSeq: m.seq, wire: receiveBatch(m.data), size: m.data.length });
                } catch (err) {
                  read = -1;
                  finish(err as Error);
                  return;
                }
                if (!more || m.info.pending === 0) {
                  read = -1;
                  finish();
                }
              },
            })
            .then(async (msgs) => {
              messages = msgs;
              if (read === -1) msgs.stop();
              // The consumer's pending count at creation tells whether anything
              // is there at all; with nothing to deliver no callback would come.
              const info = await consumer.info(true);
              if (info.num_pending === 0 && read === 0) {
                read = -1;
                finish();
              }
            }, finish);
        });
      } finally {
        consumer.delete().catch(() => undefined);
      }
    },
  };
}
