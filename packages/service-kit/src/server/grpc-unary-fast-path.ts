import http2 from "node:http2";
import type { DescMethod } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createHandlerContext,
  createMethodImplSpec,
  type Interceptor,
  type MethodImplSpec,
} from "@connectrpc/connect";
import {
  type Compression,
  compressionNegotiate,
  createAsyncIterable,
  createMethodSerializationLookup,
  encodeEnvelope,
  envelopeCompress,
  invokeUnaryImplementation,
  pipe,
  type Serialization,
  transformDecompressEnvelope,
  transformParseEnvelope,
  transformSplitEnvelope,
  validateUniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
import {
  contentTypeProto,
  headerAcceptEncoding,
  headerContentType,
  headerEncoding,
  headerGrpcStatus,
  headerTimeout,
  parseContentType,
  parseTimeout,
  setTrailerStatus,
} from "@connectrpc/connect/protocol-grpc";
import { errorFromResetCode, nodeHeaders, webHeaders } from "../http2-mapping.js";

/**
 * Unary gRPC calls with binary messages, served straight on the HTTP/2 stream.
 *
 * connect-node's adapter turns every call into a chain of async iterables over
 * Node's HTTP/2 compatibility objects; for a unary call that machinery costs
 * more CPU than the call itself (about as much again as a bare HTTP/2 round
 * trip). Here the same steps run without it, built from the protocol functions
 * connect's own gRPC handler uses (content type, timeout, compression
 * negotiation, interceptors, serialization limits, trailer status), so answers
 * and errors are the same. Anything else (streaming, Connect, gRPC-Web, JSON,
 * compressed requests, browsers, malformed headers) goes to connect unchanged.
 */
export interface UnaryFastPath {
  /** Wraps the routes callback so unary implementations registered on the router are found here too. */
  record(router: ConnectRouter): ConnectRouter;
  /** Serves the stream and returns true, or returns false and leaves it untouched. */
  take(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
}

export interface UnaryFastPathOptions {
  readonly interceptors: readonly Interceptor[];
  readonly readMaxBytes: number;
  /** The response compressions connect's adapter offers (its default: gzip, brotli). */
  readonly acceptCompression: readonly Compression[];
}

type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;

interface Route {
  readonly spec: UnarySpec;
  readonly input: Serialization<unknown>;
  readonly output: Serialization<unknown>;
}

export function createUnaryFastPath(options: UnaryFastPathOptions): UnaryFastPath {
  const opt = validateUniversalHandlerOptions({
    interceptors: [...options.interceptors],
    readMaxBytes: options.readMaxBytes,
    acceptCompression: [...options.acceptCompression],
  });
  const routes = new Map<string, Route>();
  const add = (method: DescMethod, impl: unknown, bind: object) => {
    if (method.methodKind !== "unary" || typeof impl !== "function") return;
    const spec = createMethodImplSpec(method, impl.bind(bind) as never) as UnarySpec;
    const serialization = createMethodSerializationLookup(method, opt.binaryOptions, opt.jsonOptions, opt);
    routes.set(`/${method.parent.typeName}/${method.name}`, {
      spec,
      input: serialization.getI(true) as Serialization<unknown>,
      output: serialization.getO(true) as Serialization<unknown>,
    });
  };

  return {
    record(router) {
      return {
        get handlers() {
          return router.handlers;
        },
        service(service, impl, handlerOptions) {
          // Per-service options would change the handler: leave such services to connect.
          if (handlerOptions === undefined) {
            for (const method of service.methods)
              add(method, (impl as Record<string, unknown>)[method.localName], impl);
          }
          router.service(service, impl, handlerOptions);
          return this;
        },
        rpc(method, impl, handlerOptions) {
          if (handlerOptions === undefined) add(method, impl, {});
          router.rpc(method, impl, handlerOptions);
          return this;
        },
      };
    },

    take(stream, headers) {
      if (headers[":method"] !== "POST" || headers.origin !== undefined) return false;
      const route = routes.get((headers[":path"] ?? "").split("?", 2)[0] ?? "");
      if (route === undefined || parseContentType(one(headers[lower.contentType]) ?? null)?.binary !== true)
        return false;
      const authority = headers[":authority"] ?? headers.host;
      if (authority === undefined) return false;
      const timeout = parseTimeout(one(headers[lower.timeout]) ?? null, opt.maxTimeoutMs);
      if (timeout.error) return false;
      const compression = compressionNegotiate(
        opt.acceptCompression,
        one(headers[lower.encoding]) ?? null,
        one(headers[lower.acceptEncoding]) ?? null,
        headerAcceptEncoding,
      );
      if (compression.error || compression.request) return false;
      const socket = stream.session?.socket;
      const scheme = socket !== undefined && "encrypted" in socket && socket.encrypted ? "https" : "http";
      void serve(stream, headers, route, {
        url: new URL(headers[":path"] ?? "", `${scheme}://${authority}`).toString(),
        timeoutMs: timeout.timeoutMs,
        response: compression.response,
      });
      return true;
    },
  };

  async function serve(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    route: Route,
    call: { url: string; timeoutMs: number | undefined; response: Compression | null },
  ): Promise<void> {
    const requestAbort = new AbortController();
    const context = createHandlerContext({
      ...route.spec,
      service: route.spec.method.parent,
      requestMethod: "POST",
      protocolName: "grpc",
      timeoutMs: call.timeoutMs,
      shutdownSignal: opt.shutdownSignal,
      requestSignal: requestAbort.signal,
      requestHeader: webHeaders(headers),
      url: call.url,
      responseHeader: { [headerContentType]: contentTypeProto },
      responseTrailer: { [headerGrpcStatus]: "0" },
    });
    // A client that resets the stream (deadline, cancel) makes it emit "error": the
    // close that follows tells the handler, through its signal.
    stream.on("error", () => {});
    stream.once("close", () => requestAbort.abort(errorFromResetCode(stream.rstCode) ?? aborted()));
    if (call.response) context.responseHeader.set(headerEncoding, call.response.name);
    let body: Uint8Array | undefined;
    let request: RequestBody | undefined;
    try {
      request = await readBody(stream, options.readMaxBytes);
      if (request === undefined) {
        context.abort(aborted());
        return;
      }
      if (request.overLimit) throw bodyTooLarge(options.readMaxBytes);
      const input = await parseInput(request.chunks, route.input, options.readMaxBytes);
      const output = await invokeUnaryImplementation(route.spec, context, input as never, opt.interceptors);
      const envelope = await envelopeCompress(
        { flags: 0, data: route.output.serialize(output) },
        call.response,
        opt.compressMinBytes,
      );
      body = encodeEnvelope(envelope.flags, envelope.data);
      context.abort(aborted());
    } catch (err) {
      context.abort(err);
      setTrailerStatus(
        context.responseTrailer,
        err instanceof ConnectError
          ? err
          : new ConnectError("internal error", Code.Internal, undefined, undefined, err),
      );
    }
    if (stream.destroyed || stream.closed) return;
    const unread = request?.ended === false;
    try {
      stream.respond({ ...nodeHeaders(context.responseHeader), ":status": 200 }, { waitForTrailers: true });
      stream.once("wantTrailers", () => {
        if (stream.destroyed) return;
        stream.sendTrailers(nodeHeaders(context.responseTrailer));
        // The answer is complete while the client is still sending: RFC 9113 (8.1)
        // lets the server reset with NO_ERROR, so the rest is never sent at all.
        // Resumed so that what is buffered drains away and the stream can finish.
        if (unread) {
          setImmediate(() => {
            if (stream.destroyed) return;
            stream.close(http2.constants.NGHTTP2_NO_ERROR);
            stream.resume();
          });
        }
      });
      stream.end(body);
    } catch {
      // The client went away while the answer was being written: nobody to tell.
    }
  }
}

interface RequestBody {
  readonly chunks: Buffer[];
  /** The client ended the request (else reading stopped early, and the stream is paused). */
  readonly ended: boolean;
  /** More arrived than one message of readMaxBytes can take: chunks are incomplete. */
  readonly overLimit: boolean;
}

/**
 * The request body, or undefined when the stream closed before it ended. A
 * unary request is one envelope, so reading stops as soon as more than
 * 5 + readMaxBytes bytes arrived, whatever the envelopes announce: interceptors
 * (authentication among them) run only once the message is read, so this is
 * what bounds a caller without a token. It also stops at a first envelope that
 * announces more than readMaxBytes: the parse then fails on it exactly as
 * connect's reader does.
 */
function readBody(stream: http2.ServerHttp2Stream, readMaxBytes: number): Promise<RequestBody | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: RequestBody | undefined) => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onClose);
      // Unread data stays in HTTP/2 flow control instead of being read and dropped.
      if (value?.ended === false) stream.pause();
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= 5 && chunks.length <= 5) {
        const head = chunks.length === 1 ? chunk : Buffer.concat(chunks);
        if (head.readUInt32BE(1) > readMaxBytes) return done({ chunks, ended: false, overLimit: false });
      }
      if (size > 5 + readMaxBytes) done({ chunks: [], ended: false, overLimit: true });
    };
    const onEnd = () => done({ chunks, ended: true, overLimit: false });
    const onClose = () => done(undefined);
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("close", onClose);
  });
}

/** The answer to a body that cannot be one message of at most readMaxBytes. */
function bodyTooLarge(readMaxBytes: number): ConnectError {
  return new ConnectError(
    `request body is larger than one message of configured readMaxBytes ${readMaxBytes} (plus its 5-byte prefix)`,
    Code.ResourceExhausted,
  );
}

/** The one message of a unary request: one complete, uncompressed envelope. */
async function parseInput(chunks: Buffer[], input: Serialization<unknown>, readMaxBytes: number): Promise<unknown> {
  const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  if (bytes.length >= 5 && bytes[0] === 0) {
    const length = bytes.readUInt32BE(1);
    if (length <= readMaxBytes && bytes.length === 5 + length) return input.parse(bytes.subarray(5));
  }
  // Anything else is rare: let connect's own reader produce its answer (or its error).
  const messages = pipe(
    createAsyncIterable([bytes]),
    transformSplitEnvelope(readMaxBytes),
    transformDecompressEnvelope(null, readMaxBytes),
    transformParseEnvelope(input),
  )[Symbol.asyncIterator]();
  const first = await messages.next();
  if (first.done === true) {
    throw new ConnectError("protocol error: missing input message for unary method", Code.InvalidArgument);
  }
  if ((await messages.next()).done !== true) {
    throw new ConnectError("protocol error: received extra input message for unary method", Code.InvalidArgument);
  }
  return first.value;
}

/**
 * The reason a finished call's signal is aborted with: the AbortError an argument-less
 * abort() makes, without capturing a stack trace (a measurable part of a unary call,
 * and nobody reads the stack of "this call is over").
 */
function aborted(): DOMException {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new DOMException("This operation was aborted", "AbortError");
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const one = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

// Node gives HTTP/2 header names in lower case; connect's constants are capitalised for Headers objects.
const lower = {
  contentType: headerContentType.toLowerCase(),
  timeout: headerTimeout.toLowerCase(),
  encoding: headerEncoding.toLowerCase(),
  acceptEncoding: headerAcceptEncoding.toLowerCase(),
};
