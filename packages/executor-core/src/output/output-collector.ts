/**
 * Reads Docker's multiplexed attach stream (8-byte frame headers: stream id,
 * 3 zero bytes, big-endian payload length), keeps each of stdout and stderr up
 * to a cap, and spots the exit-status trailer the call script prints on both.
 */
export interface StreamCapture {
  /** Kept bytes, at most the cap. */
  readonly kept: Buffer;
  /** Every byte the tool wrote to this stream (trailer excluded). */
  readonly total: number;
  /** Exit code from this stream's trailer, once seen. */
  readonly exitCode: number | undefined;
  /** Processes the kernel killed for memory in the container, from the trailer. */
  readonly oomKills: number;
}

export interface OutputCollector {
  /** Feeds raw bytes from the attach stream. */
  push(chunk: Buffer): void;
  /** Flushes what was held back while looking for a trailer; call when the stream ends. */
  end(): void;
  readonly stdout: StreamCapture;
  readonly stderr: StreamCapture;
  /** Both trailers seen: the tool process has exited and all its output is in. */
  readonly complete: boolean;
  /** Bytes written by the tool on both streams. */
  readonly totalBytes: number;
}

export function createOutputCollector(options: {
  nonce: string;
  /** Bytes kept per stream. */
  maxBytes: number;
  /** Called once after each new chunk is processed. */
  onProgress?: () => void;
}): OutputCollector {
  const nonce = Buffer.from(options.nonce);
  // Holding back this many bytes guarantees a trailer split across chunks is still found.
  const holdBack = nonce.length + 16;
  const streams = [createStream(), createStream()] as const;
  let header = Buffer.alloc(0);
  let frameLeft = 0;
  let frameStream = 0;

  function createStream() {
    return {
      parts: [] as Buffer[],
      keptBytes: 0,
      total: 0,
      pending: Buffer.alloc(0),
      exitCode: undefined as number | undefined,
      oomKills: 0,
    };
  }
  type Stream = ReturnType<typeof createStream>;

  function keep(s: Stream, data: Buffer) {
    if (data.length === 0) return;
    s.total += data.length;
    const room = options.maxBytes - s.keptBytes;
    if (room <= 0) return;
    const part = data.length > room ? data.subarray(0, room) : data;
    s.parts.push(Buffer.from(part));
    s.keptBytes += part.length;
  }

  function payload(s: Stream, data: Buffer) {
    if (s.exitCode !== undefined) return; // late writes from background processes
    const buf = s.pending.length ? Buffer.concat([s.pending, data]) : data;
    const at = buf.indexOf(nonce);
    if (at >= 0) {
      const rest = buf.subarray(at + nonce.length);
      const newline = rest.indexOf(10);
      if (newline >= 0) {
        keep(s, buf.subarray(0, at));
        s.pending = Buffer.alloc(0);
        const [code, oom] = rest.subarray(0, newline).toString("latin1").split(":");
        s.exitCode = Number(code);
        s.oomKills = Number(oom ?? 0) || 0;
        return;
      }
      // The trailer's digits are still on their way.
      keep(s, buf.subarray(0, at));
      s.pending = Buffer.from(buf.subarray(at));
      return;
    }
    const flush = Math.max(0, buf.length - holdBack);
    keep(s, buf.subarray(0, flush));
    s.pending = Buffer.from(buf.subarray(flush));
  }

  function push(chunk: Buffer) {
    let offset = 0;
    while (offset < chunk.length) {
      if (frameLeft === 0) {
        const need = 8 - header.length;
        header = Buffer.concat([header, chunk.subarray(offset, offset + need)]);
        offset += Math.min(need, chunk.length - offset);
        if (header.length < 8) break;
        frameStream = header[0] === 2 ? 1 : 0;
        frameLeft = header.readUInt32BE(4);
        header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(frameLeft, chunk.length - offset);
      payload(streams[frameStream] as Stream, chunk.subarray(offset, offset + take));
      offset += take;
      frameLeft -= take;
    }
    options.onProgress?.();
  }

  const capture = (s: Stream): StreamCapture => ({
    get kept() {
      return Buffer.concat(s.parts);
    },
    get total() {
      return s.total;
    },
    get exitCode() {
      return s.exitCode;
    },
    get oomKills() {
      return s.oomKills;
    },
  });

  return {
    push,
    end() {
      for (const s of streams) {
        if (s.exitCode === undefined) keep(s, s.pending);
        s.pending = Buffer.alloc(0);
      }
    },
    stdout: capture(streams[0]),
    stderr: capture(streams[1]),
    get complete() {
      return streams[0].exitCode !== undefined && streams[1].exitCode !== undefined;
    },
    get totalBytes() {
      return streams[0].total + streams[1].total + streams[0].pending.length + streams[1].pending.length;
    },
  };
}
