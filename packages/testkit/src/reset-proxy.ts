import net from "node:net";

export interface ResetUnderRequestOptions {
  /** Smallest client write that counts as the request (HTTP/2 control frames are a few dozen bytes). Default 200. */
  readonly requestBytes?: number;
  /** Smallest target write that counts as its answer. Default 100. */
  readonly answerBytes?: number;
}

/** A loopback TCP proxy in front of one server that can cut a connection under a request. */
export interface ResetProxy extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: give it to a client instead of the server's URL. */
  readonly url: string;
  /** Connections cut so far. */
  readonly resets: number;
  /**
   * Arms a cut: the connection that next carries a write of at least
   * `requestBytes` from its client has the target's answer to it withheld:
   * instead of the next write of at least `answerBytes` from the target, both
   * sockets get a TCP reset (RST). The target has then read the request and
   * acted on it; the client learns only that the connection was reset. Resolves
   * once the cut is made.
   */
  resetUnderNextRequest(options?: ResetUnderRequestOptions): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
}

/**
 * Starts a proxy on 127.0.0.1 that forwards every connection to `target` (an
 * http(s) URL or host:port on loopback) byte for byte, until a cut is armed.
 * New connections after a cut are forwarded as before: a client reconnects.
 */
export async function startResetProxy(target: string): Promise<ResetProxy> {
  const { hostname, port } = new URL(target.includes("://") ? target : `tcp://${target}`);
  const host = hostname.replace(/^\[|\]$/g, "");
  const pairs = new Set<Pair>();
  let resets = 0;
  let armed:
    | { requestBytes: number; answerBytes: number; pair?: Pair; done: () => void; cut: Promise<void> }
    | undefined;

  const cut = (pair: Pair) => {
    const arm = armed;
    armed = undefined;
    resets++;
    pair.client.resetAndDestroy();
    pair.upstream.resetAndDestroy();
    arm?.done();
  };

  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: Number(port) });
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.on("data", (chunk: Buffer) => {
      if (armed && armed.pair === undefined && chunk.length >= armed.requestBytes) armed.pair = pair;
      forward(client, upstream, chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (armed?.pair === pair && chunk.length >= armed.answerBytes) return cut(pair);
      forward(upstream, client, chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port: listening } = server.address() as net.AddressInfo;

  const close = async () => {
    armed?.done();
    armed = undefined;
    for (const pair of pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${listening}`,
    get resets() {
      return resets;
    },
    resetUnderNextRequest(options = {}) {
      if (armed) return armed.cut;
      let done = () => {};
      const cutMade = new Promise<void>((resolve) => {
        done = resolve;
      });
      armed = {
        requestBytes: options.requestBytes ?? 200,
        answerBytes: options.answerBytes ?? 100,
        done,
        cut: cutMade,
      };
      return cutMade;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

// Forwards one chunk, pausing the source while the destination's buffer is full.
function forward(from: net.Socket, to: net.Socket, chunk: Buffer): void {
  if (to.destroyed) return;
  if (!to.write(chunk)) {
    from.pause();
    to.once("drain", () => from.resume());
  }
}
