import { toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { DurationSchema } from "@bufbuild/protobuf/wkt";

/**
 * A `google.rpc.RetryInfo` error detail (`retry_delay = 1`, a Duration), the
 * standard way a gRPC server tells a client when to try again; any language's
 * googleapis types decode it from `grpc-status-details-bin`. Encoded by hand:
 * it is one field, and the googleapis protos are not otherwise needed here.
 */
export function retryInfoDetail(delayMs: number): { type: string; value: Uint8Array } {
  const ms = Math.max(0, Math.ceil(delayMs));
  const duration = toBinary(DurationSchema, {
    $typeName: "google.protobuf.Duration",
    seconds: BigInt(Math.floor(ms / 1000)),
    nanos: (ms % 1000) * 1_000_000,
  });
  const value = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(duration).finish();
  return { type: "google.rpc.RetryInfo", value };
}
