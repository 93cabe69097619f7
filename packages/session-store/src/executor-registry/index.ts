export type { ExecutorFilter, ExecutorRegistry, ExecutorRegistryOptions } from "./registry.js";
export { createExecutorRegistry } from "./registry.js";
export { createExecutorRegistryServiceImpl, executorRegistryPolicy } from "./service.js";
export { registryLimits } from "./validate.js";
