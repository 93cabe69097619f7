/**
 * Tracing as the standard OpenTelemetry variables configure it, read from an
 * environment without side effects (so it can be checked, and tested, apart
 * from the SDK). Only OTLP over HTTP with protobuf bodies is exported.
 */
export type SamplerConfig =
  | { readonly kind: "always_on" | "always_off" }
  | { readonly kind: "traceidratio"; readonly ratio: number }
  | {
      readonly kind: "parentbased";
      readonly root: "always_on" | "always_off" | "traceidratio";
      readonly ratio: number;
    };

export type TracingConfig =
  | { readonly enabled: false }
  | {
      readonly enabled: true;
      readonly serviceName: string;
      /** Where spans are POSTed: the traces endpoint as given, or the base endpoint + "/v1/traces". */
      readonly url: string;
      readonly sampler: SamplerConfig;
      readonly resourceAttributes: Readonly<Record<string, string>>;
    };

export class TracingConfigError extends Error {
  override readonly name = "TracingConfigError";
}

type Env = Readonly<Record<string, string | undefined>>;

const samplerNames = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;

/**
 * Reads OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (otlp or none), OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL, OTEL_SERVICE_NAME,
 * OTEL_TRACES_SAMPLER(+_ARG) and OTEL_RESOURCE_ATTRIBUTES. With OTEL_TRACES_EXPORTER unset,
 * tracing is on only when an endpoint is set: a daemon never exports to a default address
 * nobody asked for. Throws TracingConfigError naming the variable that is wrong.
 */
export function tracingConfigFromEnv(defaultServiceName: string, env: Env): TracingConfig {
  const value = (name: string) => {
    const v = env[name]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  if (value("OTEL_SDK_DISABLED")?.toLowerCase() === "true") return { enabled: false };
  const exporter = value("OTEL_TRACES_EXPORTER")?.toLowerCase();
  const tracesEndpoint = value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const baseEndpoint = value("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (exporter !== undefined && exporter !== "otlp" && exporter !== "none") {
    throw new TracingConfigError(
      `OTEL_TRACES_EXPORTER="${exporter}" is not supported: use "otlp" (OTLP over HTTP/protobuf) or "none"`,
    );
  }
  if (exporter === "none") return { enabled: false };
  if (exporter === undefined && tracesEndpoint === undefined && baseEndpoint === undefined) return { enabled: false };

  const protocol = value("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? value("OTEL_EXPORTER_OTLP_PROTOCOL");
  if (protocol !== undefined && protocol !== "http/protobuf") {
    throw new TracingConfigError(
      `OTEL_EXPORTER_OTLP_PROTOCOL="${protocol}" is not supported: spans are exported as OTLP over HTTP with protobuf bodies ("http/protobuf")`,
    );
  }
  // The specification's default endpoint, for OTEL_TRACES_EXPORTER=otlp without one.
  const url = tracesEndpoint ?? `${(baseEndpoint ?? "http://localhost:4318").replace(/\/+$/, "")}/v1/traces`;
  const variable = tracesEndpoint !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TracingConfigError(`${variable}="${url}" is not a URL: expected e.g. http://127.0.0.1:4318`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TracingConfigError(`${variable}="${url}" must be an http:// or https:// URL`);
  }
  return {
    enabled: true,
    serviceName: value("OTEL_SERVICE_NAME") ?? defaultServiceName,
    url,
    sampler: samplerFrom(value("OTEL_TRACES_SAMPLER"), value("OTEL_TRACES_SAMPLER_ARG")),
    resourceAttributes: resourceAttributesFrom(value("OTEL_RESOURCE_ATTRIBUTES")),
  };
}

function samplerFrom(name: string | undefined, arg: string | undefined): SamplerConfig {
  // The specification's default: follow the caller's decision, sample every root.
  const chosen = (name ?? "parentbased_always_on").toLowerCase();
  if (!(samplerNames as readonly string[]).includes(chosen)) {
    throw new TracingConfigError(
      `OTEL_TRACES_SAMPLER="${name}" is not supported: use one of ${samplerNames.join(", ")}`,
    );
  }
  let ratio = 1;
  if (chosen.endsWith("traceidratio") && arg !== undefined) {
    ratio = Number(arg);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
      throw new TracingConfigError(`OTEL_TRACES_SAMPLER_ARG="${arg}" is not a sampling ratio: use a number in [0, 1]`);
    }
  }
  if (chosen.startsWith("parentbased_")) {
    return { kind: "parentbased", root: chosen.slice("parentbased_".length) as "always_on", ratio };
  }
  return chosen === "traceidratio" ? { kind: "traceidratio", ratio } : { kind: chosen as "always_on" | "always_off" };
}

/**
 * `key1=value1,key2=value2`, values percent-encoded (the W3C Baggage octet rules
 * the specification refers to). Parsed here rather than by the SDK's env
 * detector, which reads process.env only.
 */
function resourceAttributesFrom(raw: string | undefined): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (raw === undefined) return attributes;
  for (const pair of raw.split(",")) {
    if (pair.trim() === "") continue;
    const at = pair.indexOf("=");
    const key = at > 0 ? pair.slice(0, at).trim() : "";
    if (key === "") {
      throw new TracingConfigError(`OTEL_RESOURCE_ATTRIBUTES: "${pair.trim()}" is not key=value`);
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      throw new TracingConfigError(`OTEL_RESOURCE_ATTRIBUTES: the value of "${key}" is not valid percent-encoding`);
    }
    attributes[key] = decoded;
  }
  return attributes;
}
