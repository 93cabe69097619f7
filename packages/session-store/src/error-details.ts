import { toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { DurationSchema } from "@bufbuild/protobuf/wkt";

// Standard google.rpc error details (googleapis' error_details.proto), the way
// a gRPC server says more than a code: any language's googleapis types decode
// them from `grpc-status-details-bin`. Encoded by hand: they are a few fields,
// and the googleapis protos are not otherwise needed here.

export interface RawDetail {
  readonly type: string;
  readonly value: Uint8Array;
}

/** `google.rpc.RetryInfo { Duration retry_delay = 1; }`: when to try again. */
export function retryInfoDetail(delayMs: number): RawDetail {
  const ms = Math.max(0, Math.ceil(delayMs));
  const duration = toBinary(DurationSchema, {
    $typeName: "google.protobuf.Duration",
    seconds: BigInt(Math.floor(ms / 1000)),
    nanos: (ms % 1000) * 1_000_000,
  });
  return {
    type: "google.rpc.RetryInfo",
    value: new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(duration).finish(),
  };
}

/**
 * `google.rpc.QuotaFailure { repeated Violation violations = 1; }` with one
 * `Violation { string subject = 1; string description = 2; }`: which quota
 * refused the request. Without a RetryInfo beside it, retrying will not help.
 */
export function quotaFailureDetail(subject: string, description: string): RawDetail {
  const violation = new BinaryWriter().tag(1, WireType.LengthDelimited).string(subject);
  violation.tag(2, WireType.LengthDelimited).string(description);
  return {
    type: "google.rpc.QuotaFailure",
    value: new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(violation.finish()).finish(),
  };
}
