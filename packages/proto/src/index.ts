export * from "./event-kinds.js";
export * as grpcHealthV1 from "./gen/grpc/health/v1/health_pb.js";
export * as grpcReflectionV1 from "./gen/grpc/reflection/v1/reflection_pb.js";
export * as grpcReflectionV1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
export * from "./gen/reins/executor/v1/executor_pb.js";
export * from "./gen/reins/harness/v1/harness_pb.js";
export * from "./gen/reins/session/v1/agent_pb.js";
export * from "./gen/reins/session/v1/events_pb.js";
export * from "./gen/reins/session/v1/session_pb.js";
