import { readFileSync } from "node:fs";
import type { TlsOptions } from "./server/index.js";

type Env = Readonly<Record<string, string | undefined>>;

/** What a client presents and trusts when it dials a TLS server (connect-node `nodeOptions`). */
export interface ClientTlsOptions {
  /** CA bundle the server's certificate must chain to, instead of the system CAs. */
  readonly ca?: Buffer;
  /** Client certificate and key, for servers that require one (mTLS). */
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/**
 * A server's TLS settings from `<PREFIX>_TLS_CERT` and `<PREFIX>_TLS_KEY` (PEM
 * paths, set together) and optionally `<PREFIX>_TLS_CLIENT_CA`, which makes
 * client certificates signed by that CA mandatory (mTLS). Undefined: cleartext.
 */
export function loadServerTls(env: Env, prefix: string): TlsOptions | undefined {
  const certVar = `${prefix}_TLS_CERT`;
  const keyVar = `${prefix}_TLS_KEY`;
  const caVar = `${prefix}_TLS_CLIENT_CA`;
  const certPath = env[certVar];
  const keyPath = env[keyVar];
  if (!certPath && !keyPath) {
    if (env[caVar]) throw new Error(`${caVar} needs ${certVar} and ${keyVar}: mTLS is TLS with client certificates`);
    return undefined;
  }
  if (!certPath || !keyPath) throw new Error(`${certVar} and ${keyVar} must be set together (PEM file paths)`);
  const caPath = env[caVar];
  return {
    cert: pemFile(certVar, certPath),
    key: pemFile(keyVar, keyPath),
    ...(caPath ? { ca: pemFile(caVar, caPath), requireClientCert: true } : {}),
  };
}

/**
 * A client's TLS settings: the CA to trust from `caVar`, and a client
 * certificate from `certVar` / `keyVar` (set together). Empty when none is set.
 */
export function loadClientTls(env: Env, vars: { ca: string; cert: string; key: string }): ClientTlsOptions {
  const certPath = env[vars.cert];
  const keyPath = env[vars.key];
  if (Boolean(certPath) !== Boolean(keyPath)) {
    throw new Error(`${vars.cert} and ${vars.key} must be set together (PEM file paths)`);
  }
  const caPath = env[vars.ca];
  return {
    ...(caPath ? { ca: pemFile(vars.ca, caPath) } : {}),
    ...(certPath && keyPath ? { cert: pemFile(vars.cert, certPath), key: pemFile(vars.key, keyPath) } : {}),
  };
}

// The error names the variable and the path; a key's content never reaches it.
function pemFile(name: string, path: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new Error(`${name}=${path} cannot be read: ${(err as Error).message}`);
  }
  if (!data.includes("-----BEGIN ")) throw new Error(`${name}=${path} is not a PEM file`);
  return data;
}
