import type { Interceptor } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";

// Headers that describe a response on the wire: a server sets them for its own response.
const protocolHeader =
  /^(grpc-|connect-|content-type$|content-length$|content-encoding$|transfer-encoding$|accept-encoding$|date$|connection$|keep-alive$|trailer$|te$|vary$|access-control-)/i;

function scrub(err: unknown): unknown {
  if (err instanceof ConnectError) {
    const names: string[] = [];
    err.metadata.forEach((_value, name) => {
      names.push(name);
    });
    for (const name of names) if (protocolHeader.test(name)) err.metadata.delete(name);
  }
  return err;
}

/**
 * Drops protocol headers from the metadata of errors a handler throws.
 *
 * A ConnectError caught from an upstream call carries that call's response headers and
 * trailers as metadata (content-type, grpc-status, grpc-encoding...). Rethrown as is, they
 * would be written into this server's response and contradict it: a Connect JSON client
 * would see `content-type: application/grpc+proto` on its error and fail to read it.
 * Application metadata (anything else) is kept.
 */
export function createErrorMetadataInterceptor(): Interceptor {
  return (next) => async (req) => {
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      throw scrub(err);
    }
    if (!res.stream) return res;
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
        } catch (err) {
          throw scrub(err);
        }
      })(),
    };
  };
}
