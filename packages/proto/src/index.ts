/**
 * @reins/proto: the generated TypeScript of the Reins contracts (protoc-gen-es v2,
 * committed under src/gen), the vendored grpc.health.v1 and reflection services
 * under their own namespaces, and the table of event kinds (event-kinds.ts).
 */
export * from "./event-kinds.js";
export * as grpcHealthV1 from "./gen/grpc/health/v1/health_pb.js";
export * as grpcReflectionV1 from "./gen/grpc/reflection/v1/reflection_pb.js";
export * as grpcReflectionV1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
export * from "./gen/reins/executor/v1/executor_pb.js";
export * from "./gen/reins/executor/v1/registry_pb.js";
export * from "./gen/reins/harness/v1/harness_pb.js";
export * from "./gen/reins/session/v1/agent_pb.js";
export * from "./gen/reins/session/v1/events_pb.js";
export * from "./gen/reins/session/v1/session_pb.js";
