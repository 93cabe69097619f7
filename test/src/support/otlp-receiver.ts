import { EventEmitter, once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { BinaryReader, type WireType } from "@bufbuild/protobuf/wire";

/** A span as an OTLP/HTTP exporter sent it, ids in lowercase hex. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** "" for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message: string };
  /** The resource's attributes (service.name, ...). */
  readonly resource: Readonly<Record<string, AttributeValue>>;
  readonly scope: string;
}

export type AttributeValue = string | number | boolean | AttributeValue[] | undefined;

export interface OtlpReceiver extends AsyncDisposable {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  readonly spans: readonly ReceivedSpan[];
  /** Requests refused (wrong path, method or content type), with why. */
  readonly refused: readonly string[];
  /** Resolves once `done(spans)` holds, checked on every export that arrives. */
  waitFor(done: (spans: readonly ReceivedSpan[]) => boolean, signal?: AbortSignal): Promise<void>;
}

const maxBodyBytes = 16 * 1024 * 1024;

/**
 * An OTLP/HTTP trace receiver on 127.0.0.1: accepts POST /v1/traces with
 * application/x-protobuf bodies (gzip or not) and decodes each
 * ExportTraceServiceRequest by field number, as the collector's proto defines it.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const refused: string[] = [];
  const arrived = new EventEmitter();
  const server = http.createServer((req, res) => {
    const refuse = (status: number, why: string) => {
      refused.push(why);
      res.writeHead(status).end(why);
    };
    if (req.method !== "POST" || req.url !== "/v1/traces") return refuse(404, `${req.method} ${req.url}`);
    if (req.headers["content-type"] !== "application/x-protobuf") {
      return refuse(415, `content-type ${req.headers["content-type"]}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    req.on("end", () => {
      if (size > maxBodyBytes) return refuse(413, `body of ${size} bytes`);
      try {
        const raw = Buffer.concat(chunks);
        const body = req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
        spans.push(...decodeExportTraceServiceRequest(body));
      } catch (err) {
        return refuse(400, `undecodable body: ${(err as Error).message}`);
      }
      // An empty ExportTraceServiceResponse: everything accepted.
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      arrived.emit("spans");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    refused,
    async waitFor(done, signal) {
      while (!done(spans)) await once(arrived, "spans", signal ? { signal } : {});
    },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// Field numbers from opentelemetry/proto/collector/trace/v1/trace_service.proto,
// trace/v1/trace.proto, resource/v1/resource.proto and common/v1/common.proto.
function decodeExportTraceServiceRequest(bytes: Uint8Array): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  fields(bytes, (no, r) => {
    if (no === 1) decodeResourceSpans(r.bytes(), out);
    else return false;
  });
  return out;
}

function decodeResourceSpans(bytes: Uint8Array, out: ReceivedSpan[]): void {
  let resource: Record<string, AttributeValue> = {};
  const scopes: Uint8Array[] = [];
  fields(bytes, (no, r) => {
    if (no === 1) {
      fields(r.bytes(), (rno, rr) => {
        if (rno !== 1) return false;
        keyValue(rr.bytes(), resource);
      });
    } else if (no === 2) scopes.push(r.bytes());
    else return false;
  });
  resource = { ...resource };
  for (const scopeBytes of scopes) {
    let scope = "";
    const spanBytes: Uint8Array[] = [];
    fields(scopeBytes, (no, r) => {
      if (no === 1) {
        fields(r.bytes(), (sno, sr) => {
          if (sno !== 1) return false;
          scope = sr.string();
        });
      } else if (no === 2) spanBytes.push(r.bytes());
      else return false;
    });
    for (const b of spanBytes) out.push(decodeSpan(b, resource, scope));
  }
}

function decodeSpan(bytes: Uint8Array, resource: Record<string, AttributeValue>, scope: string): ReceivedSpan {
  let traceId = "";
  let spanId = "";
  let parentSpanId = "";
  let name = "";
  let kind = 0;
  const attributes: Record<string, AttributeValue> = {};
  const status = { code: 0, message: "" };
  fields(bytes, (no, r) => {
    if (no === 1) traceId = hex(r.bytes());
    else if (no === 2) spanId = hex(r.bytes());
    else if (no === 4) parentSpanId = hex(r.bytes());
    else if (no === 5) name = r.string();
    else if (no === 6) kind = r.int32();
    else if (no === 9) keyValue(r.bytes(), attributes);
    else if (no === 15) {
      fields(r.bytes(), (sno, sr) => {
        if (sno === 2) status.message = sr.string();
        else if (sno === 3) status.code = sr.int32();
        else return false;
      });
    } else return false;
  });
  return { traceId, spanId, parentSpanId, name, kind, attributes, status, resource, scope };
}

function keyValue(bytes: Uint8Array, into: Record<string, AttributeValue>): void {
  let key = "";
  let value: AttributeValue;
  fields(bytes, (no, r) => {
    if (no === 1) key = r.string();
    else if (no === 2) value = anyValue(r.bytes());
    else return false;
  });
  into[key] = value;
}

function anyValue(bytes: Uint8Array): AttributeValue {
  let value: AttributeValue;
  fields(bytes, (no, r) => {
    if (no === 1) value = r.string();
    else if (no === 2) value = r.bool();
    else if (no === 3) value = Number(r.int64());
    else if (no === 4) value = r.double();
    else if (no === 5) {
      const values: AttributeValue[] = [];
      fields(r.bytes(), (ano, ar) => {
        if (ano !== 1) return false;
        values.push(anyValue(ar.bytes()));
      });
      value = values;
    } else return false;
  });
  return value;
}

/** Calls `field` for each field of a message; it returns false for one it does not read, which is skipped. */
function fields(bytes: Uint8Array, field: (no: number, reader: BinaryReader) => false | undefined): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    const start = reader.pos;
    if (field(no, reader) === false) {
      if (reader.pos !== start) throw new Error(`field ${no} was partly read`);
      reader.skip(wireType as WireType);
    }
  }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
