import { Code, ConnectError } from "@connectrpc/connect";

/** Session ids become NATS subject tokens and Docker names: no `.`, `*`, `>` or spaces. */
export const sessionIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** Executor ids name registry keys (NATS subject tokens): the same rule as session ids. */
export const executorIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** Event ids are idempotency keys: UUIDs, ULIDs and similar fit. */
export const eventIdPattern = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A value for an error message: quoted, and cut short so a huge input makes no huge message. */
export function quoteForMessage(value: string, max = 80): string {
  return value.length > max ? `${JSON.stringify(value.slice(0, max))}...` : JSON.stringify(value);
}

/** The complaint about an invalid event id, or undefined when `id` is valid (empty included). */
export function eventIdProblem(id: string, field: string): string | undefined {
  if (id === "" || eventIdPattern.test(id)) return undefined;
  return `${field} ${quoteForMessage(id)} is invalid: use 1-128 characters from A-Z a-z 0-9 _ - . :`;
}

/** Throws INVALID_ARGUMENT saying what is wrong unless `id` is a valid session id. */
export function validateSessionId(id: string, field = "session_id"): string {
  if (id === "") throw new ConnectError(`${field} is required`, Code.InvalidArgument);
  if (!sessionIdPattern.test(id)) {
    throw new ConnectError(
      `${field} ${quoteForMessage(id)} is invalid: use 1-64 characters from A-Z a-z 0-9 _ - (no '.', '*', '>' or spaces)`,
      Code.InvalidArgument,
    );
  }
  return id;
}
