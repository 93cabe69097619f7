export type { HostToolCredential, HostToolSpec, SecretSources } from "./config.js";
export { defaultMaxResponseBytes, defaultTimeoutMs, parseHostToolsConfig, resolveCredential } from "./config.js";
export type { HostTools } from "./host-tools.js";
export { createHostTools } from "./host-tools.js";
export type { HostToolRouterOptions } from "./router.js";
export { withHostTools } from "./router.js";
