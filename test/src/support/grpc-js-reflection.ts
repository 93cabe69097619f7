import { fromBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type * as grpc from "@grpc/grpc-js";
import { createGrpcJsClient, grpcTarget } from "./grpc-js-client.js";

export type ReflectionVersion = "v1" | "v1alpha";

/** The parts of a reflection answer the tests look at, decoded. */
export type ReflectionAnswer =
  | { readonly kind: "services"; readonly names: string[] }
  | { readonly kind: "files"; readonly files: FileDescriptorProto[] }
  | { readonly kind: "error"; readonly code: number; readonly message: string };

interface RawResponse {
  messageResponse?: string;
  listServicesResponse?: { service?: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto?: Buffer[] };
  errorResponse?: { errorCode?: number; errorMessage?: string };
}

/**
 * Runs one grpc.reflection ServerReflectionInfo stream with @grpc/grpc-js (stubs from the
 * vendored reflection .proto) and returns one decoded answer per request, in order.
 */
export async function reflectWithGrpcJs(
  url: string,
  version: ReflectionVersion,
  requests: readonly Record<string, unknown>[],
): Promise<ReflectionAnswer[]> {
  const client = createGrpcJsClient(`grpc.reflection.${version}.ServerReflection`, grpcTarget(url));
  try {
    const open = client.ServerReflectionInfo as (
      options: grpc.CallOptions,
    ) => grpc.ClientDuplexStream<unknown, unknown>;
    const stream = open.call(client, { deadline: Date.now() + 10_000 });
    const answers: ReflectionAnswer[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on("data", (res: RawResponse) => answers.push(decode(res)));
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    for (const request of requests) stream.write(request);
    stream.end();
    await done;
    return answers;
  } finally {
    client.close();
  }
}

function decode(res: RawResponse): ReflectionAnswer {
  switch (res.messageResponse) {
    case "listServicesResponse":
      return { kind: "services", names: (res.listServicesResponse?.service ?? []).map((s) => s.name) };
    case "fileDescriptorResponse":
      return {
        kind: "files",
        files: (res.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b) =>
          fromBinary(FileDescriptorProtoSchema, b),
        ),
      };
    case "errorResponse":
      return { kind: "error", code: res.errorResponse?.errorCode ?? 0, message: res.errorResponse?.errorMessage ?? "" };
    default:
      throw new Error(`unexpected reflection response ${JSON.stringify(res)}`);
  }
}
