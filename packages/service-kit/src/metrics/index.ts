/**
 * Prometheus metrics of a daemon: its own registry with process metrics, RPC
 * counts and latencies for every server, the admin listener that serves them,
 * and caps that keep caller-fed labels bounded.
 */
export { createLabelCap, type LabelCapOptions, otherLabel } from "./label-cap.js";
export { type MetricsListener, parseMetricsListen, startMetricsListener } from "./metrics-listener.js";
export { createMetricsRegistry } from "./registry.js";
export { codeName, createRpcMetricsInterceptor } from "./rpc-metrics.js";
