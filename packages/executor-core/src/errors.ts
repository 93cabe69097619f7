import { Code } from "@connectrpc/connect";

// The errors of the sandbox: the small domain errors its parts throw, and
// `toDockerFailure`, the one place where Docker's and Node's errors get a message
// the model can act on and the status code a caller gets (DockerFailure.code).

/** The catalog file is wrong; the message lists every problem with its location. */
export class CatalogError extends Error {
  override readonly name = "CatalogError";
}

/** The input cannot become a command (e.g. a NUL byte in an argument). */
export class CommandInputError extends Error {
  override readonly name = "CommandInputError";
}

/** Creating, attaching or removing a workspace's disk failed; the message says which step and why. */
export class WorkspaceDiskError extends Error {
  override readonly name = "WorkspaceDiskError";
}

export type DockerFailureKind =
  | "unavailable" // the engine does not answer or dropped the connection
  | "image-missing"
  | "not-found" // container or volume gone
  | "in-use" // e.g. a volume still mounted by a container
  | "conflict"
  | "rejected" // the engine refused the request (bad limit, ...)
  | "unknown";

/** A Docker failure, said once for the model and once as a status code for callers. */
export class DockerFailure extends Error {
  override readonly name = "DockerFailure";
  constructor(
    readonly kind: DockerFailureKind,
    message: string,
    readonly code: Code,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const connectionCodes = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTCONN",
  "EAI_AGAIN",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_SOCKET_CLOSED",
]);

/**
 * The one place where errors from dockerode, docker-modem and Node sockets are
 * understood. `doing` says what was attempted ("starting a container for bash"),
 * `image` names the image when there is one, so the message stands on its own.
 */
export function toDockerFailure(err: unknown, doing: string, image?: string): DockerFailure {
  if (err instanceof DockerFailure) return err;
  const e = (err ?? {}) as { statusCode?: number; code?: string; reason?: string; json?: unknown; message?: string };
  const detail = engineMessage(e);
  const status = e.statusCode;
  if (e.code && connectionCodes.has(e.code)) {
    return new DockerFailure(
      "unavailable",
      `Docker is unavailable on the sandbox host while ${doing} (${e.code}); try again later`,
      Code.Unavailable,
      { cause: err },
    );
  }
  if (
    status === 404 &&
    image &&
    /no such image|pull access denied|not found/i.test(detail) &&
    !/container/i.test(detail)
  ) {
    return new DockerFailure(
      "image-missing",
      `the sandbox image ${image} is not on the sandbox host (build it with scripts/build-images.sh)`,
      Code.FailedPrecondition,
      { cause: err },
    );
  }
  if (status === 404) {
    return new DockerFailure("not-found", `Docker: ${detail} (while ${doing})`, Code.NotFound, { cause: err });
  }
  if (status === 409 && /in use/i.test(detail)) {
    return new DockerFailure("in-use", `Docker: ${detail} (while ${doing})`, Code.FailedPrecondition, { cause: err });
  }
  if (status === 409) {
    return new DockerFailure("conflict", `Docker: ${detail} (while ${doing})`, Code.Aborted, { cause: err });
  }
  if (status === 400) {
    return new DockerFailure("rejected", `Docker rejected ${doing}: ${detail}`, Code.FailedPrecondition, {
      cause: err,
    });
  }
  if (
    status !== undefined &&
    status >= 500 &&
    /connection refused|dial unix|no such file|is the docker daemon/i.test(detail)
  ) {
    return new DockerFailure(
      "unavailable",
      `Docker is unavailable on the sandbox host while ${doing}: ${detail}`,
      Code.Unavailable,
      {
        cause: err,
      },
    );
  }
  return new DockerFailure("unknown", `Docker failed while ${doing}: ${detail}`, Code.Internal, { cause: err });
}

function engineMessage(e: { json?: unknown; reason?: string; message?: string }): string {
  const json = e.json as { message?: string } | string | undefined;
  if (json && typeof json === "object" && typeof json.message === "string") return json.message;
  if (typeof json === "string" && json.trim()) return json.trim();
  return (e.message ?? e.reason ?? "unknown error").replace(/^\(HTTP code \d+\)\s*/, "");
}
