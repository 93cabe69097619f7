import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, type ConnectError } from "@connectrpc/connect";

/**
 * `google.rpc.ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; }`:
 * the machine-readable reason of an error, which any language's googleapis types decode
 * from the status details. Encoded by hand, like the other google.rpc details here.
 */
export interface ErrorInfo {
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
}

const errorInfoType = "google.rpc.ErrorInfo";

/**
 * The reason and domain of the ErrorInfo on the session service's ABORTED for
 * an append fenced out by another writer (`expected_last_seq` is not the log's
 * last seq). A client tells a fence from an ABORTED its own transport made (a
 * connection reset is ABORTED in connect-node) by this detail alone.
 */
export const appendFenced = { reason: "FENCED", domain: "reins.session.v1" } as const;

/** An ErrorInfo as a raw detail, for `ConnectError.details`. */
export function errorInfoDetail(info: ErrorInfo): { type: string; value: Uint8Array } {
  const writer = new BinaryWriter();
  writer.tag(1, WireType.LengthDelimited).string(info.reason);
  writer.tag(2, WireType.LengthDelimited).string(info.domain);
  for (const [key, value] of Object.entries(info.metadata)) {
    const entry = new BinaryWriter().tag(1, WireType.LengthDelimited).string(key);
    entry.tag(2, WireType.LengthDelimited).string(value);
    writer.tag(3, WireType.LengthDelimited).bytes(entry.finish());
  }
  return { type: errorInfoType, value: writer.finish() };
}

/** The first ErrorInfo among an error's details, if it carries one that decodes. */
export function errorInfoOf(err: ConnectError): ErrorInfo | undefined {
  for (const detail of err.details) {
    if (!("type" in detail) || detail.type !== errorInfoType) continue;
    try {
      return decodeErrorInfo(detail.value);
    } catch {
      // Not an ErrorInfo after all; another detail may be.
    }
  }
  return undefined;
}

function decodeErrorInfo(bytes: Uint8Array): ErrorInfo {
  const reader = new BinaryReader(bytes);
  let reason = "";
  let domain = "";
  const metadata: Record<string, string> = {};
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (no === 1) reason = reader.string();
    else if (no === 2) domain = reader.string();
    else if (no === 3) {
      const entry = new BinaryReader(reader.bytes());
      let key = "";
      let value = "";
      while (entry.pos < entry.len) {
        const [n, t] = entry.tag();
        if (n === 1) key = entry.string();
        else if (n === 2) value = entry.string();
        else entry.skip(t);
      }
      metadata[key] = value;
    } else reader.skip(wireType);
  }
  return { reason, domain, metadata };
}

/** Whether the session service itself refused an append as fenced (see appendFenced). */
export function isAppendFenced(err: ConnectError): boolean {
  if (err.code !== Code.Aborted) return false;
  const info = errorInfoOf(err);
  return info?.reason === appendFenced.reason && info.domain === appendFenced.domain;
}
