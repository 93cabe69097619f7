import http2 from "node:http2";
import { type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { type Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { grpcHealthV1 } from "@reins/proto";
import { codeName } from "./outcome.js";

/** What a call ended with: "OK", or a canonical gRPC code name, with the status message. */
export interface Status {
  readonly code: string;
  readonly message: string;
}

/** The status a unary call (or anything that throws ConnectError) ends with. */
export async function statusOf(call: Promise<unknown>): Promise<Status> {
  try {
    await call;
    return { code: "OK", message: "" };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: codeName(e.code), message: e.rawMessage };
  }
}

/**
 * The status a server stream ends with after at most `take` messages (then the client
 * leaves and the status is "OK"). `received` counts the messages read.
 */
export async function streamStatusOf(
  open: (signal: AbortSignal) => AsyncIterable<unknown>,
  take = 0,
): Promise<Status & { received: number }> {
  const leave = new AbortController();
  let received = 0;
  try {
    for await (const _ of open(leave.signal)) {
      received += 1;
      if (received > take) break;
    }
    return { code: "OK", message: "", received };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: codeName(e.code), message: e.rawMessage, received };
  } finally {
    leave.abort();
  }
}

/** Codes in the Connect protocol's JSON ("invalid_argument") as canonical names. */
const connectCodeName = (code: unknown) => (typeof code === "string" ? code.toUpperCase() : "UNKNOWN");

/** A gRPC length-prefixed message: flags, 4-byte big-endian length, then the bytes. */
export function grpcFrame(payload: Uint8Array, options: { compressed?: boolean; declaredLength?: number } = {}) {
  const frame = Buffer.alloc(5 + payload.length);
  frame[0] = options.compressed ? 1 : 0;
  frame.writeUInt32BE(options.declaredLength ?? payload.length, 1);
  frame.set(payload, 5);
  return frame;
}

/**
 * Sends `body` (already framed, see grpcFrame) as one gRPC call over cleartext HTTP/2 and
 * returns the status from the trailers (or from the headers of a trailers-only answer).
 * `path` is "/<package.Service>/<Method>".
 */
export async function rawGrpc(
  url: string,
  path: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<Status & { httpStatus: number; messages: number }> {
  const session = http2.connect(url);
  try {
    return await new Promise((resolve, reject) => {
      session.once("error", reject);
      const req = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        ...headers,
      });
      let httpStatus = 0;
      let status: string | undefined;
      let message = "";
      let bytes = 0;
      const take = (h: http2.IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) {
          status = String(h["grpc-status"]);
          message = decodeURIComponent(String(h["grpc-message"] ?? ""));
        }
      };
      req.on("response", (h) => {
        httpStatus = Number(h[":status"]);
        take(h);
      });
      req.on("trailers", take);
      req.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
      });
      req.on("error", reject);
      req.on("end", () => {
        if (status === undefined) {
          reject(new Error(`no grpc-status from ${path} (HTTP ${httpStatus}, ${bytes} body bytes)`));
          return;
        }
        const code = Number(status) === 0 ? "OK" : codeName(Number(status) as Code);
        resolve({ code, message, httpStatus, messages: bytes > 0 ? 1 : 0 });
      });
      req.end(body);
    });
  } finally {
    session.close();
  }
}

/**
 * Sends `json` as the body of a Connect-protocol call (HTTP/1.1, no client library in the
 * way, so the JSON may break the schema). Server-streaming methods are enveloped as the
 * protocol requires; the status comes from the error body or the end-stream message.
 */
export async function connectJson(
  url: string,
  path: string,
  json: string,
  options: { streaming?: boolean; headers?: Record<string, string> } = {},
): Promise<Status & { httpStatus: number }> {
  const body = options.streaming ? envelope(0, Buffer.from(json)) : json;
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: {
      "content-type": options.streaming ? "application/connect+json" : "application/json",
      "connect-protocol-version": "1",
      ...options.headers,
    },
    body,
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (!options.streaming) {
    if (res.ok) return { code: "OK", message: "", httpStatus: res.status };
    const error = JSON.parse(bytes.toString("utf8")) as { code?: string; message?: string };
    return { code: connectCodeName(error.code), message: error.message ?? "", httpStatus: res.status };
  }
  if (!res.ok) {
    const error = JSON.parse(bytes.toString("utf8")) as { code?: string; message?: string };
    return { code: connectCodeName(error.code), message: error.message ?? "", httpStatus: res.status };
  }
  // The last envelope (flag 0x02) is the end-stream message, with the error if any.
  for (let at = 0; at + 5 <= bytes.length; ) {
    const flags = bytes[at] ?? 0;
    const length = bytes.readUInt32BE(at + 1);
    const payload = bytes.subarray(at + 5, at + 5 + length);
    at += 5 + length;
    if ((flags & 0x02) === 0) continue;
    const end = JSON.parse(payload.toString("utf8")) as { error?: { code?: string; message?: string } };
    if (!end.error) return { code: "OK", message: "", httpStatus: res.status };
    return { code: connectCodeName(end.error.code), message: end.error.message ?? "", httpStatus: res.status };
  }
  throw new Error(`no end-stream message from ${path}`);
}

function envelope(flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** The daemon's health for `service` ("" for the whole server), by its enum name. */
export async function healthOf(url: string, service = ""): Promise<string> {
  const health = createClient(grpcHealthV1.Health, createGrpcTransport({ baseUrl: url }));
  const { status } = await health.check({ service });
  return grpcHealthV1.HealthCheckResponse_ServingStatus[status] ?? String(status);
}

/** Bearer-token headers for a call. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Ids that must never reach a NATS subject or a Docker name, with a label for test names. */
export const hostileIds: ReadonlyArray<readonly [label: string, id: string]> = [
  ["a.b", "a.b"],
  ["*", "*"],
  [">", ">"],
  ["65 characters", "x".repeat(65)],
  ["1 MB", "x".repeat(1024 * 1024)],
  ["unicode", "séance-日本"],
  ["a NUL byte", "a\u0000b"],
  ["a space", "a b"],
  ["a newline", "a\nb"],
  ["a path", "../etc"],
];

/** What every service says about a malformed session id. */
export const invalidIdMessage = /^session_id ".*"(\.\.\.)? is invalid: use 1-64 characters from A-Z a-z 0-9 _ -/s;

/** Bytes that are not a valid encoding of any message with string fields. */
export const garbageMessages: ReadonlyArray<readonly [label: string, bytes: Uint8Array]> = [
  // Field 1 as length-delimited, claiming 127 bytes that are not there.
  ["a truncated length-delimited field", Uint8Array.of(0x0a, 0x7f, 0x61)],
  // Wire type 7 does not exist.
  ["an invalid wire type", Uint8Array.of(0x0f, 0x01)],
  // A varint that never ends.
  ["an endless varint", Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)],
  // Field 1 (a string) holding invalid UTF-8.
  ["invalid UTF-8 in a string field", Uint8Array.of(0x0a, 0x02, 0xc3, 0x28)],
  // Field number 0 is reserved.
  ["field number 0", Uint8Array.of(0x00, 0x01)],
];

const unsigned = new Set([ScalarType.UINT32, ScalarType.UINT64, ScalarType.FIXED32, ScalarType.FIXED64]);

/** A Connect JSON body that breaks the schema, and what an error about it must name. */
export interface WrongJson {
  readonly json: string;
  /** The broken field's name, or for message and enum fields its type's name (what the decoder names). */
  readonly names: RegExp | undefined;
}

/**
 * Connect JSON bodies for `desc` that are JSON (or not quite) but break the schema: each
 * field in turn with a value of the wrong type, merged into `base` (a request that would
 * otherwise be valid, so only the broken field can be the reason for an error), and
 * documents that are not an object at all, or that name a field the schema does not have.
 */
export function wrongTypeJsons(desc: DescMessage, base: Record<string, unknown> = {}): WrongJson[] {
  const bodies: WrongJson[] = ["not json", "[]", "null", '"a string"', "{", "42"].map((json) => ({
    json,
    names: undefined,
  }));
  bodies.push({ json: JSON.stringify({ ...base, noSuchField: 1 }), names: /noSuchField/ });
  for (const field of desc.fields) {
    const wrong: unknown[] = [];
    if (field.fieldKind === "list") wrong.push("not a list", { a: 1 }, [{ wrong: [] }, 5]);
    else if (field.fieldKind === "map") wrong.push([], "not a map");
    else if (field.fieldKind === "message")
      wrong.push(5, "x", [], { unknownNested: 1, [field.message.fields[0]?.jsonName ?? "x"]: [[]] });
    else if (field.fieldKind === "enum") wrong.push(true, 1.5, { n: 1 }, "NO_SUCH_VALUE");
    else if (field.scalar === ScalarType.STRING) wrong.push(5, { nested: true }, ["x"], true);
    else if (field.scalar === ScalarType.BOOL) wrong.push("yes", 2);
    else if (field.scalar === ScalarType.BYTES) wrong.push(5, "not base64!");
    else if (field.scalar === ScalarType.DOUBLE || field.scalar === ScalarType.FLOAT) wrong.push("abc", { n: 1 }, [1]);
    else {
      wrong.push("abc", 1.5, { n: 1 }, "1e400");
      if (unsigned.has(field.scalar)) wrong.push(-1, "-1");
    }
    const typeName =
      field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")
        ? field.message.typeName
        : field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")
          ? field.enum.typeName
          : undefined;
    const names = new RegExp([field.name, field.jsonName, typeName].filter(Boolean).join("|").replaceAll(".", "\\."));
    for (const value of wrong) bodies.push({ json: JSON.stringify({ ...base, [field.jsonName]: value }), names });
  }
  return bodies;
}

/** A daemon's log lines at level error or above (pino levels 50 and 60), and stray error output. */
export function errorLines(output: readonly string[]): string[] {
  return output.filter((line) => {
    let level: unknown;
    try {
      level = (JSON.parse(line) as { level?: unknown }).level;
    } catch {
      // Not a log entry: an uncaught error's trace is the one thing that matters here.
      return /Error|^\s+at /.test(line);
    }
    return typeof level === "number" && level >= 50;
  });
}

/** A gRPC request body that breaks the framing, what the status must say, and its code. */
export interface BrokenEnvelope {
  readonly label: string;
  readonly body: Uint8Array;
  readonly message: RegExp;
  /** The precise code for the client's mistake. */
  readonly want: string;
}

const empty = grpcFrame(new Uint8Array());

/** Framing mistakes: every message there is decodes, only the envelope is wrong. */
export const brokenEnvelopes: readonly BrokenEnvelope[] = [
  {
    label: "a length longer than the body",
    body: grpcFrame(Uint8Array.of(0x0a, 0x01, 0x61), { declaredLength: 100 }),
    message: /^protocol error: incomplete envelope$/,
    want: "INVALID_ARGUMENT",
  },
  {
    label: "a 4 GiB length",
    body: grpcFrame(new Uint8Array(), { declaredLength: 0xffffffff }),
    message: /^message size 4294967295 is larger than configured readMaxBytes \d+$/,
    want: "RESOURCE_EXHAUSTED",
  },
  {
    label: "the compressed flag without grpc-encoding",
    body: grpcFrame(new Uint8Array(), { compressed: true }),
    message: /^received compressed envelope, but do not know how to decompress$/,
    want: "INVALID_ARGUMENT",
  },
  {
    label: "no message",
    body: new Uint8Array(),
    message: /^protocol error: missing input message for (unary|server-streaming) method$/,
    want: "INVALID_ARGUMENT",
  },
  {
    label: "two messages",
    body: Buffer.concat([empty, empty]),
    message: /^protocol error: received extra input message for (unary|server-streaming) method$/,
    want: "INVALID_ARGUMENT",
  },
];
