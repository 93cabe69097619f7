/**
 * Helpers for tests of packages built on service-kit; resolved from source
 * only (the "@reins/source" condition), never part of the build.
 */
export { registerInMemoryTracing } from "./in-memory-tracing.js";
