import type { Interceptor } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";

// Headers that describe a response on the wire: a server sets them for its own response.
const protocolHeader =
  /^(grpc-|connect-|content-type$|content-length$|content-encoding$|transfer-encoding$|accept-encoding$|date$|connection$|keep-alive$|trailer$|te$|vary$|access-control-)/i;

type OutgoingDetail = NonNullable<ConstructorParameters<typeof ConnectError>[3]>[number];

/**
 * Longest status message sent. Messages quote what was wrong with a request, and a request
 * may carry a megabyte-long id or name: quoted whole it would not fit in the HTTP/2 trailers,
 * and the client would lose the connection instead of reading the status.
 */
export const maxErrorMessageLength = 2048;

// A UTF-16 surrogate without its other half: it cannot be encoded as UTF-8.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The message as sent: at most maxErrorMessageLength characters, and well-formed. A message
 * may quote a piece of the request cut in the middle of a surrogate pair (V8's JSON.parse
 * errors do), and gRPC's percent-encoding of grpc-message throws on a lone surrogate: the
 * call would end without its status.
 */
function sendable(message: string): string {
  const extra = message.length - maxErrorMessageLength;
  const cut = extra > 0 ? `${message.slice(0, maxErrorMessageLength)}... (${extra} more characters)` : message;
  return cut.replace(loneSurrogate, "\uFFFD");
}

function scrub(err: unknown): unknown {
  if (!(err instanceof ConnectError)) return err;
  const names: string[] = [];
  err.metadata.forEach((_value, name) => {
    names.push(name);
  });
  for (const name of names) if (protocolHeader.test(name)) err.metadata.delete(name);
  const message = sendable(err.rawMessage);
  if (message === err.rawMessage) return err;
  // Details decoded from an upstream response cannot be re-encoded without their schema.
  const details = err.details.filter((d): d is OutgoingDetail => !("type" in d && d.value instanceof Uint8Array));
  return new ConnectError(message, err.code, err.metadata, details, err.cause);
}

/**
 * Drops protocol headers from the metadata of errors a handler throws, and makes their
 * messages sendable (see `sendable`).
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
