import type { DescFile, DescService, Registry } from "@bufbuild/protobuf";
import { create, createRegistry, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import { grpcReflectionV1, grpcReflectionV1alpha } from "@reins/proto";

type ReflectionRequest = grpcReflectionV1.ServerReflectionRequest;
type ReflectionResponse = grpcReflectionV1.ServerReflectionResponse;
type ResponseBody = ReflectionResponse["messageResponse"];

/**
 * Registers gRPC server reflection (v1 and v1alpha: grpcurl and older clients
 * still ask for v1alpha) answering from the file descriptors of `services`.
 */
export function registerReflection(router: ConnectRouter, services: readonly DescService[]): void {
  const files = collectFiles(services.map((s) => s.file));
  const index: Index = {
    types: createRegistry(...files),
    files: new Map(files.map((f) => [f.proto.name, f])),
    services: services.map((s) => s.typeName),
  };

  const answer = (req: ReflectionRequest): ResponseBody => {
    try {
      return answerRequest(req, index);
    } catch (err) {
      return {
        case: "errorResponse",
        value: create(grpcReflectionV1.ErrorResponseSchema, {
          errorCode: Code.NotFound,
          errorMessage: err instanceof Error ? err.message : String(err),
        }),
      };
    }
  };

  router.service(grpcReflectionV1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield create(grpcReflectionV1.ServerReflectionResponseSchema, {
          validHost: req.host,
          originalRequest: req,
          messageResponse: answer(req),
        });
      }
    },
  });
  // v1alpha has the same wire shape; only the package name differs.
  router.service(grpcReflectionV1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        const v1Request = req as unknown as ReflectionRequest;
        yield create(grpcReflectionV1alpha.ServerReflectionResponseSchema, {
          validHost: req.host,
          originalRequest: req,
          messageResponse: answer(v1Request) as grpcReflectionV1alpha.ServerReflectionResponse["messageResponse"],
        });
      }
    },
  });
}

interface Index {
  types: Registry;
  files: Map<string, DescFile>;
  services: string[];
}

function answerRequest(req: ReflectionRequest, { types, files, services }: Index): ResponseBody {
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: create(grpcReflectionV1.ListServiceResponseSchema, {
          service: services.map((name) => ({ name })),
        }),
      };
    case "fileByFilename": {
      const file = files.get(r.value);
      if (!file) throw new Error(`file "${r.value}" not found`);
      return fileResponse(file);
    }
    case "fileContainingSymbol": {
      const file = fileOfSymbol(types, r.value);
      if (!file) throw new Error(`symbol "${r.value}" not found`);
      return fileResponse(file);
    }
    case "fileContainingExtension":
      throw new Error(`extension ${r.value.extensionNumber} of "${r.value.containingType}" not found`);
    case "allExtensionNumbersOfType": {
      if (!types.getMessage(r.value)) throw new Error(`type "${r.value}" not found`);
      return {
        case: "allExtensionNumbersResponse",
        value: create(grpcReflectionV1.ExtensionNumberResponseSchema, { baseTypeName: r.value }),
      };
    }
    default:
      throw new Error("empty reflection request");
  }
}

function fileOfSymbol(registry: Registry, symbol: string): DescFile | undefined {
  const desc = registry.get(symbol);
  if (desc) return desc.file;
  // A method name ("pkg.Service.Method") is a symbol too.
  const dot = symbol.lastIndexOf(".");
  const service = registry.getService(symbol.slice(0, dot));
  return service?.methods.some((m) => m.name === symbol.slice(dot + 1)) ? service.file : undefined;
}

// The response carries the file and all its transitive dependencies, so a client
// can build a complete pool without further round trips.
function fileResponse(file: DescFile): ResponseBody {
  return {
    case: "fileDescriptorResponse",
    value: create(grpcReflectionV1.FileDescriptorResponseSchema, {
      fileDescriptorProto: collectFiles([file]).map((f) => toBinary(FileDescriptorProtoSchema, f.proto)),
    }),
  };
}

function collectFiles(roots: readonly DescFile[]): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (seen.has(file.proto.name)) return;
    for (const dep of file.dependencies) visit(dep);
    seen.set(file.proto.name, file);
  };
  for (const root of roots) visit(root);
  return [...seen.values()];
}
