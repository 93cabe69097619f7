import { Code, ConnectError } from "@connectrpc/connect";

/**
 * What one unary call came back with, in a form every client can produce: the response as
 * proto3 JSON field names, or the gRPC status code by its canonical name.
 */
export type Outcome =
  | { readonly ok: true; readonly response: Record<string, unknown> }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Canonical gRPC name of a status code: Code.NotFound -> "NOT_FOUND". */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

export async function connectOutcome(call: () => Promise<Record<string, unknown>>): Promise<Outcome> {
  try {
    return { ok: true, response: await call() };
  } catch (err) {
    const e = ConnectError.from(err);
    return { ok: false, code: codeName(e.code), message: e.rawMessage };
  }
}
