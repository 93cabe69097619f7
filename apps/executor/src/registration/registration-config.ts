import type { ClientTlsOptions } from "@reins/service-kit";
import { executorIdPattern, loadClientTls, loadSecret, minTokenLength } from "@reins/service-kit";

/** How this executor registers in the session service's ExecutorRegistryService. */
export interface RegistrationConfig {
  /** The session daemon that serves the registry. */
  readonly registryUrl: string;
  /** Its registry id (REINS_EXECUTOR_ID), the id its registration token is bound to. */
  readonly id: string;
  /** Undefined: the registry runs without authentication (loopback development). */
  readonly token: string | undefined;
  /** Where harnesses reach this executor; undefined: the URL it listens on. */
  readonly advertiseUrl: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly tls: ClientTlsOptions;
}

type Env = Readonly<Record<string, string | undefined>>;

// The registry's own bounds (session-store executor-registry/validate.ts), checked
// here too so a bad label fails at startup, naming the variable, not at every heartbeat.
const maxLabels = 64;
const maxLabelValueChars = 256;
const labelKeyPattern = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const controlChars = /[\u0000-\u001f\u007f]/;

const wildcardHosts = new Set(["0.0.0.0", "::", "[::]", ""]);

/**
 * Reads the REINS_EXECUTOR_REGISTRY_* settings. Undefined when
 * REINS_EXECUTOR_REGISTRY_URL is unset: the executor does not register, and
 * harnesses reach it at an address they are configured with.
 */
export function loadRegistrationConfig(env: Env, listen: { host: string }): RegistrationConfig | undefined {
  const registryUrl = env.REINS_EXECUTOR_REGISTRY_URL;
  if (!registryUrl) {
    for (const name of ["REINS_EXECUTOR_ADVERTISE_URL", "REINS_EXECUTOR_LABELS", "REINS_EXECUTOR_REGISTRATION_TOKEN"]) {
      if (env[name] || env[`${name}_FILE`]) {
        throw new Error(`${name} is set but REINS_EXECUTOR_REGISTRY_URL is not: it only matters when registering`);
      }
    }
    return undefined;
  }
  const id = env.REINS_EXECUTOR_ID;
  if (!id) {
    throw new Error(
      "REINS_EXECUTOR_ID is required with REINS_EXECUTOR_REGISTRY_URL: the id this executor registers under (its registration token is bound to it)",
    );
  }
  if (!executorIdPattern.test(id)) {
    throw new Error(`REINS_EXECUTOR_ID=${JSON.stringify(id)} is invalid: use 1-64 characters from A-Z a-z 0-9 _ -`);
  }
  const token = loadSecret(env, "REINS_EXECUTOR_REGISTRATION_TOKEN");
  if (token !== undefined && token.length < minTokenLength) {
    throw new Error(`REINS_EXECUTOR_REGISTRATION_TOKEN needs at least ${minTokenLength} characters`);
  }
  const advertiseUrl = env.REINS_EXECUTOR_ADVERTISE_URL
    ? serviceUrl("REINS_EXECUTOR_ADVERTISE_URL", env.REINS_EXECUTOR_ADVERTISE_URL)
    : undefined;
  if (advertiseUrl === undefined && wildcardHosts.has(listen.host)) {
    throw new Error(
      `REINS_EXECUTOR_ADVERTISE_URL is required: the executor listens on every address (${listen.host || "*"}), so it cannot tell harnesses which one reaches it (e.g. http://10.0.0.7:7003)`,
    );
  }
  return {
    registryUrl: serviceUrl("REINS_EXECUTOR_REGISTRY_URL", registryUrl),
    id,
    token,
    advertiseUrl,
    labels: parseLabels(env.REINS_EXECUTOR_LABELS ?? ""),
    tls: loadClientTls(env, {
      ca: "REINS_EXECUTOR_REGISTRY_CA",
      cert: "REINS_EXECUTOR_REGISTRY_CLIENT_CERT",
      key: "REINS_EXECUTOR_REGISTRY_CLIENT_KEY",
    }),
  };
}

// An http(s) origin and nothing else: credentials in an advertised address would
// reach every harness that lists it, and the registry refuses them anyway.
function serviceUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name}=${JSON.stringify(value)} is not a URL (expected e.g. http://10.0.0.7:7001)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`${name}=${JSON.stringify(value)} is not an http(s) URL`);
  }
  if (url.username !== "" || url.password !== "")
    throw new Error(`${name} must not carry credentials (user:password@)`);
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    throw new Error(`${name}=${JSON.stringify(value)} must be scheme://host:port, without a path, query or fragment`);
  }
  return url.origin;
}

/** `k=v,k=v` into labels, with the registry's rules; errors name the entry. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const entries = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (entries.length > maxLabels) {
    throw new Error(`REINS_EXECUTOR_LABELS has ${entries.length} labels, over the maximum of ${maxLabels}`);
  }
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq < 0) throw new Error(`REINS_EXECUTOR_LABELS: ${JSON.stringify(entry)} is not key=value`);
    const key = entry.slice(0, eq).trim();
    const value = entry.slice(eq + 1).trim();
    if (!labelKeyPattern.test(key)) {
      throw new Error(
        `REINS_EXECUTOR_LABELS: key ${JSON.stringify(key)} is invalid: use 1-63 characters from A-Z a-z 0-9 _ . / -, starting with a letter or digit`,
      );
    }
    if (key in labels) throw new Error(`REINS_EXECUTOR_LABELS: key ${JSON.stringify(key)} is given twice`);
    if (value.length > maxLabelValueChars || controlChars.test(value)) {
      throw new Error(
        `REINS_EXECUTOR_LABELS: the value of ${JSON.stringify(key)} must be at most ${maxLabelValueChars} characters, without control characters`,
      );
    }
    labels[key] = value;
  }
  return labels;
}
