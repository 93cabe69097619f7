/**
 * Self-registration in the executor registry: the settings (config.ts reads them)
 * and the heartbeats that main.ts starts after the server listens.
 */
export { registerExecutor } from "./register-executor.js";
export type { Registration } from "./registration.js";
export { RegistrationRefusedError } from "./registration.js";
export type { RegistrationConfig } from "./registration-config.js";
export { loadRegistrationConfig } from "./registration-config.js";
