import { Code, ConnectError } from "@connectrpc/connect";

/** Session ids become NATS subject tokens and Docker names: no `.`, `*`, `>` or spaces. */
export const sessionIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws INVALID_ARGUMENT saying what is wrong unless `id` is a valid session id. */
export function validateSessionId(id: string, field = "session_id"): string {
  if (id === "") throw new ConnectError(`${field} is required`, Code.InvalidArgument);
  if (!sessionIdPattern.test(id)) {
    const shown = id.length > 80 ? `${JSON.stringify(id.slice(0, 80))}...` : JSON.stringify(id);
    throw new ConnectError(
      `${field} ${shown} is invalid: use 1-64 characters from A-Z a-z 0-9 _ - (no '.', '*', '>' or spaces)`,
      Code.InvalidArgument,
    );
  }
  return id;
}
