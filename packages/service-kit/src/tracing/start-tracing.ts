import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { type SamplerConfig, type TracingConfig, tracingConfigFromEnv } from "./tracing-config.js";

/** The tracing of one process: on (spans exported) or off (the API's no-op tracer). */
export interface Tracing extends AsyncDisposable {
  readonly config: TracingConfig;
  /** Exports the spans still buffered, then stops; once stopped, spans are dropped. */
  shutdown(): Promise<void>;
}

/**
 * Configures tracing for this process from the standard OTEL_* variables (see
 * tracingConfigFromEnv). When they ask for nothing, nothing is registered: the
 * API's no-op tracer makes every span in the code a few property reads, and no
 * trace context is read from or sent to peers. When on, spans go out in batches
 * to the OTLP/HTTP endpoint, W3C trace context is read from and written to
 * calls, and async work keeps its span across awaits. Throws TracingConfigError
 * (a daemon exits 2 naming the variable) on a value it cannot honour.
 */
export function startTracing(
  serviceName: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Tracing {
  const config = tracingConfigFromEnv(serviceName, env);
  if (!config.enabled) {
    const off = async () => {};
    return { config, shutdown: off, [Symbol.asyncDispose]: off };
  }
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ ...config.resourceAttributes, [ATTR_SERVICE_NAME]: config.serviceName }),
    ),
    sampler: samplerOf(config.sampler),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: config.url }))],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= provider.shutdown().finally(() => {
      trace.disable();
      propagation.disable();
      context.disable();
    });
    return stopping;
  };
  return { config, shutdown, [Symbol.asyncDispose]: shutdown };
}

function samplerOf(config: SamplerConfig): Sampler {
  const simple = (kind: "always_on" | "always_off" | "traceidratio", ratio: number): Sampler =>
    kind === "always_on"
      ? new AlwaysOnSampler()
      : kind === "always_off"
        ? new AlwaysOffSampler()
        : new TraceIdRatioBasedSampler(ratio);
  if (config.kind === "parentbased") return new ParentBasedSampler({ root: simple(config.root, config.ratio) });
  return simple(config.kind, config.kind === "traceidratio" ? config.ratio : 1);
}
