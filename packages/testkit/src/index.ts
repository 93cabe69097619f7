export { freePort } from "./free-port.js";
export type { NatsServer, NatsServerOptions } from "./nats-server.js";
export { startNatsServer, waitForPort } from "./nats-server.js";
