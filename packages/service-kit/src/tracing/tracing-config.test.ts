import { describe, expect, it } from "vitest";
import { TracingConfigError, tracingConfigFromEnv } from "./tracing-config.js";

describe("tracingConfigFromEnv", () => {
  it("is off when no variable asks for traces", () => {
    expect(tracingConfigFromEnv("reins-session", {})).toEqual({ enabled: false });
    expect(tracingConfigFromEnv("reins-session", { OTEL_SERVICE_NAME: "x" })).toEqual({ enabled: false });
  });

  it("exports to the base endpoint's /v1/traces, or to the traces endpoint as given", () => {
    const base = tracingConfigFromEnv("reins-session", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318/" });
    expect(base).toMatchObject({ enabled: true, url: "http://127.0.0.1:4318/v1/traces", serviceName: "reins-session" });
    const traces = tracingConfigFromEnv("reins-session", {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:9999/custom",
    });
    expect(traces).toMatchObject({ url: "http://127.0.0.1:9999/custom" });
  });

  it("honours OTEL_TRACES_EXPORTER, OTEL_SDK_DISABLED and OTEL_SERVICE_NAME", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
    expect(tracingConfigFromEnv("a", { ...endpoint, OTEL_TRACES_EXPORTER: "none" })).toEqual({ enabled: false });
    expect(tracingConfigFromEnv("a", { ...endpoint, OTEL_SDK_DISABLED: "true" })).toEqual({ enabled: false });
    expect(tracingConfigFromEnv("a", { OTEL_TRACES_EXPORTER: "otlp" })).toMatchObject({
      enabled: true,
      url: "http://localhost:4318/v1/traces",
    });
    expect(tracingConfigFromEnv("a", { ...endpoint, OTEL_SERVICE_NAME: "harness-eu-1" })).toMatchObject({
      serviceName: "harness-eu-1",
    });
  });

  it("reads the sampler and its ratio", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
    expect(tracingConfigFromEnv("a", endpoint)).toMatchObject({
      sampler: { kind: "parentbased", root: "always_on" },
    });
    expect(
      tracingConfigFromEnv("a", { ...endpoint, OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" }),
    ).toMatchObject({ sampler: { kind: "traceidratio", ratio: 0.25 } });
    expect(
      tracingConfigFromEnv("a", {
        ...endpoint,
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.5",
      }),
    ).toMatchObject({ sampler: { kind: "parentbased", root: "traceidratio", ratio: 0.5 } });
    expect(tracingConfigFromEnv("a", { ...endpoint, OTEL_TRACES_SAMPLER: "always_off" })).toMatchObject({
      sampler: { kind: "always_off" },
    });
  });

  it("decodes OTEL_RESOURCE_ATTRIBUTES", () => {
    expect(
      tracingConfigFromEnv("a", {
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
        OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod, team=agents%20platform,",
      }),
    ).toMatchObject({ resourceAttributes: { "deployment.environment": "prod", team: "agents platform" } });
  });

  it.each([
    [{ OTEL_TRACES_EXPORTER: "zipkin" }, /OTEL_TRACES_EXPORTER="zipkin" is not supported/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" }, /OTEL_EXPORTER_OTLP_ENDPOINT=.* is not a URL/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "ftp://x/" }, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=.* must be an http/],
    [{ OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, /OTEL_EXPORTER_OTLP_PROTOCOL="grpc"/],
    [{ OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER: "sometimes" }, /OTEL_TRACES_SAMPLER="sometimes"/],
    [
      { OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" },
      /OTEL_TRACES_SAMPLER_ARG="2" is not a sampling ratio/,
    ],
    [
      { OTEL_TRACES_EXPORTER: "otlp", OTEL_RESOURCE_ATTRIBUTES: "=x" },
      /OTEL_RESOURCE_ATTRIBUTES: "=x" is not key=value/,
    ],
  ])("refuses %o naming the variable", (env, message) => {
    expect(() => tracingConfigFromEnv("a", env)).toThrow(TracingConfigError);
    expect(() => tracingConfigFromEnv("a", env)).toThrow(message);
  });
});
