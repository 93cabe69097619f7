import http2 from "node:http2";
import { Code, ConnectError, createContextValues, type Transport } from "@connectrpc/connect";
import {
  type Compression,
  createAsyncIterable,
  createMethodSerializationLookup,
  createMethodUrl,
  encodeEnvelope,
  envelopeDecompress,
  pipe,
  runUnaryCall,
  type Serialization,
  transformDecompressEnvelope,
  transformParseEnvelope,
  transformSplitEnvelope,
  validateReadWriteMaxBytes,
} from "@connectrpc/connect/protocol";
import {
  headerGrpcStatus,
  requestHeaderWithCompression,
  validateResponseWithCompression,
  validateTrailer,
} from "@connectrpc/connect/protocol-grpc";
import {
  compressionBrotli,
  compressionGzip,
  createGrpcTransport,
  type GrpcTransportOptions,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { errorFromResetCode, nodeHeaders, webHeaders } from "./http2-mapping.js";

/**
 * A gRPC transport like connect-node's `createGrpcTransport`, whose unary calls
 * with binary messages and no request compression skip connect-node's HTTP
 * client (a chain of async iterables around each HTTP/2 stream) and read the
 * stream directly. The call itself (interceptors, deadline and signal, request
 * headers, response and trailer validation, errors) is connect's: the same
 * functions its own gRPC transport runs. Streaming calls, and every call when
 * options ask for JSON or request compression, go through connect-node's
 * transport, on the same HTTP/2 session.
 */
export function createGrpcClientTransport(options: GrpcTransportOptions): Transport {
  if (options.useBinaryFormat === false || options.sendCompression != null) return createGrpcTransport(options);
  const sessionManager =
    options.sessionManager ??
    new Http2SessionManager(
      options.baseUrl,
      {
        pingIntervalMs: options.pingIntervalMs,
        pingIdleConnection: options.pingIdleConnection,
        pingTimeoutMs: options.pingTimeoutMs,
        idleConnectionTimeoutMs: options.idleConnectionTimeoutMs,
      },
      options.nodeOptions,
    );
  const connectTransport = createGrpcTransport({ ...options, sessionManager });
  const interceptors = options.interceptors ?? [];
  const acceptCompression: Compression[] = options.acceptCompression ?? [compressionGzip, compressionBrotli];
  const limits = validateReadWriteMaxBytes(options.readMaxBytes, options.writeMaxBytes, options.compressMinBytes);

  return {
    stream: (...args) => connectTransport.stream(...args),
    async unary(method, signal, timeoutMs, header, message, contextValues) {
      const serialization = createMethodSerializationLookup(method, options.binaryOptions, options.jsonOptions, limits);
      const timeout = timeoutMs === undefined ? options.defaultTimeoutMs : timeoutMs <= 0 ? undefined : timeoutMs;
      return await runUnaryCall({
        interceptors,
        signal,
        timeoutMs: timeout,
        req: {
          stream: false,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: createMethodUrl(options.baseUrl, method),
          header: requestHeaderWithCompression(true, timeout, header, acceptCompression, null),
          contextValues: contextValues ?? createContextValues(),
          message,
        },
        next: async (req) => {
          const body = encodeEnvelope(0, serialization.getI(true).serialize(req.message));
          const res = await h2Call(sessionManager, req.url, req.header, body, req.signal);
          const { compression, headerError } = validateResponseWithCompression(
            acceptCompression,
            res.status,
            res.header,
          );
          const output = await parseOutput(
            res.body,
            compression ?? null,
            limits.readMaxBytes,
            serialization.getO(true) as Serialization<unknown>,
          );
          validateTrailer(res.trailer, res.header);
          if (output === undefined) {
            if (headerError) throw headerError;
            throw new ConnectError(
              "protocol error: missing output message for unary method",
              res.trailer.has(headerGrpcStatus) ? Code.Unimplemented : Code.Unknown,
            );
          }
          if (headerError) {
            throw new ConnectError(
              "protocol error: received output message for unary method with error status",
              Code.Unknown,
            );
          }
          return {
            stream: false as const,
            service: method.parent,
            method,
            header: res.header,
            message: output as never,
            trailer: res.trailer,
          };
        },
      });
    },
  };
}

interface H2Response {
  status: number;
  header: Headers;
  body: Buffer;
  trailer: Headers;
}

/** One request and its whole answer on the session, with connect-node's error mapping. */
type SessionManager = NonNullable<GrpcTransportOptions["sessionManager"]>;

async function h2Call(
  sessionManager: SessionManager,
  url: string,
  header: Headers,
  body: Uint8Array,
  signal: AbortSignal,
): Promise<H2Response> {
  const requestUrl = new URL(url);
  if (requestUrl.origin !== sessionManager.authority) {
    throw new ConnectError(
      `cannot make a request to ${requestUrl.origin}: the http2 session is connected to ${sessionManager.authority}`,
      Code.Internal,
    );
  }
  let stream: http2.ClientHttp2Stream;
  try {
    stream = await sessionManager.request("POST", requestUrl.pathname + requestUrl.search, nodeHeaders(header), {});
  } catch (err) {
    throw errorFromNodeReason(err);
  }
  return await new Promise<H2Response>((resolve, reject) => {
    let settled = false;
    let status = 0;
    let responseHeader = new Headers();
    const trailer = new Headers();
    const chunks: Buffer[] = [];
    const fail = (reason: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      const err = reason instanceof ConnectError ? reason : errorFromNodeReason(reason);
      if (!stream.closed) stream.close(err.code === Code.Canceled ? h2.NGHTTP2_CANCEL : h2.NGHTTP2_INTERNAL_ERROR);
      reject(err);
    };
    const onAbort = () => fail(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort);
    stream.on("response", (headers) => {
      status = Number(headers[":status"] ?? 0);
      responseHeader = webHeaders(headers);
    });
    stream.on("trailers", (headers) => {
      webHeaders(headers).forEach((value, key) => {
        trailer.set(key, value);
      });
    });
    stream.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      sessionManager.notifyResponseByteRead(stream);
    });
    stream.on("error", (err) => {
      if (stream.writableEnded && errorCodes(err).includes("ERR_STREAM_WRITE_AFTER_END")) return;
      fail(err);
    });
    stream.on("close", () => {
      const reset = errorFromResetCode(stream.rstCode);
      if (reset) return fail(reset);
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      resolve({ status, header: responseHeader, body: Buffer.concat(chunks), trailer });
    });
    stream.end(body);
  });
}

/**
 * The one message of a unary answer, or undefined for none. One complete
 * envelope is read here; anything else is rare, and connect's envelope reader
 * gives its own answer or error for it.
 */
async function parseOutput(
  bytes: Buffer,
  compression: Compression | null,
  readMaxBytes: number,
  output: Serialization<unknown>,
): Promise<unknown> {
  if (bytes.length === 0) return undefined;
  if (bytes.length >= 5) {
    const flags = bytes[0] as number;
    const length = bytes.readUInt32BE(1);
    if (length <= readMaxBytes && bytes.length === 5 + length && (flags === 0 || (flags === 1 && compression))) {
      const { data } = await envelopeDecompress({ flags, data: bytes.subarray(5) }, compression, readMaxBytes);
      return output.parse(data);
    }
  }
  const messages = pipe(
    createAsyncIterable([new Uint8Array(bytes)]),
    transformSplitEnvelope(readMaxBytes),
    transformDecompressEnvelope(compression, readMaxBytes),
    transformParseEnvelope(output),
  );
  let message: unknown;
  for await (const m of messages) {
    if (message !== undefined) {
      throw new ConnectError("protocol error: received extra output message for unary method", Code.Unimplemented);
    }
    message = m;
  }
  return message;
}

const h2 = http2.constants;

function errorCodes(reason: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  for (let r = reason; r instanceof Error && !seen.has(r); r = (r as { cause?: unknown }).cause) {
    seen.add(r);
    const code = (r as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}

// connect-node's mapping of a Node error to a status (its node-error.ts).
function errorFromNodeReason(reason: unknown): ConnectError {
  const codes = errorCodes(reason);
  let code = Code.Internal;
  if (
    codes.some((c) =>
      ["ERR_STREAM_WRITE_AFTER_END", "ERR_STREAM_DESTROYED", "ERR_HTTP2_INVALID_STREAM", "ECONNRESET"].includes(c),
    )
  ) {
    code = Code.Aborted;
  } else if (codes.some((c) => ["ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED"].includes(c))) {
    code = Code.Unavailable;
  }
  const err = ConnectError.from(reason, code);
  if (err !== reason) err.cause = reason;
  return err;
}
