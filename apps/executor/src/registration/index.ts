export { catalogDigest } from "./catalog-digest.js";
export { registerExecutor } from "./register-executor.js";
export type { ExecutorReport, Registration } from "./registration.js";
export { createRegistration, RegistrationRefusedError } from "./registration.js";
export type { RegistrationConfig } from "./registration-config.js";
export { loadRegistrationConfig, parseLabels } from "./registration-config.js";
