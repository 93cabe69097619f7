import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { ExecutorRegistryService, ExecutorService, HarnessService, SessionService } from "@reins/proto";
import { describe, expect, it } from "vitest";
import { grpcTarget } from "./support/grpc-js-client.js";
import { reflectWithGrpcJs } from "./support/grpc-js-reflection.js";
import { type Probe, probes, targetOf } from "./support/probes.js";
import { useStack } from "./support/use-stack.js";

// Server reflection is what lets grpcurl, Postman or a client in any language talk to a
// daemon without the .proto files. Proved with two independent reflection clients: grpc-js
// (both protocol versions: grpcurl still asks v1alpha first) and Python, which then builds
// message classes from the reflected descriptors alone and calls methods with them.

const fixture = useStack();

/** Every application service a daemon serves, in the order it registers them. */
const servedBy: Record<Probe["daemon"], readonly string[]> = {
  session: [SessionService.typeName, ExecutorRegistryService.typeName],
  executor: [ExecutorService.typeName],
  harness: [HarnessService.typeName],
};

const infrastructure = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

function expectSelfContained(files: FileDescriptorProto[]) {
  const seen = new Set<string>();
  for (const file of files) {
    // Dependencies come first, so a client can add the files to a pool in order.
    for (const dep of file.dependency) expect(seen, `${file.name} needs ${dep}`).toContain(dep);
    seen.add(file.name);
  }
}

describe.each(probes)("$daemon daemon, $method", (probe: Probe) => {
  it.each(["v1", "v1alpha"] as const)(
    "lists and describes its services over reflection %s (grpc-js)",
    async (version) => {
      const { stack } = fixture();
      const answers = await reflectWithGrpcJs(stack[probe.daemon].url, version, [
        { listServices: "" },
        { fileContainingSymbol: probe.service.typeName },
        { fileContainingSymbol: `${probe.service.typeName}.${probe.method}` },
        { fileContainingSymbol: "grpc.health.v1.Health" },
        { fileByFilename: probe.service.file.proto.name },
        { fileContainingSymbol: "no.such.Service" },
      ]);
      const [list, byService, byMethod, health, byName, missing] = answers;

      expect(list).toEqual({ kind: "services", names: [...servedBy[probe.daemon], ...infrastructure] });

      for (const answer of [byService, byMethod, byName]) {
        if (answer?.kind !== "files") throw new Error(`expected files, got ${JSON.stringify(answer)}`);
        expectSelfContained(answer.files);
        const file = answer.files.at(-1);
        expect(file?.name).toBe(probe.service.file.proto.name);
        const service = file?.service.find((s) => `${file.package}.${s.name}` === probe.service.typeName);
        expect(service?.method.map((m) => m.name)).toEqual(probe.service.methods.map((m) => m.name));
      }

      if (health?.kind !== "files") throw new Error(`expected files, got ${JSON.stringify(health)}`);
      expect(health.files.map((f) => f.name)).toEqual(["grpc/health/v1/health.proto"]);

      expect(missing).toMatchObject({ kind: "error", code: 5 /* NOT_FOUND */ });
    },
  );

  it("serves a client built from reflection alone, as grpcurl does (Python)", async () => {
    const { stack, python } = fixture();
    const { url, headers } = targetOf(stack, probe);
    const request = await probe.request(stack, "python");

    const described = await python.run({
      target: grpcTarget(url),
      metadata: Object.entries(headers),
      health: [],
      reflect: { symbol: probe.service.typeName, call: { method: probe.method, request } },
    });
    expect(described.reflect?.services).toEqual([...servedBy[probe.daemon], ...infrastructure]);
    expect(described.reflect?.methods).toEqual(probe.service.methods.map((m) => m.name));
    expect(described.reflect?.files.at(-1)).toBe(probe.service.file.proto.name);
    const outcome = described.reflect?.call;
    if (!outcome) throw new Error("no call outcome from the reflection client");
    probe.check(outcome, request);

    // `grpcurl -plaintext <host> grpc.health.v1.Health/Check`
    const health = await python.run({
      target: grpcTarget(url),
      health: [],
      reflect: { symbol: "grpc.health.v1.Health", call: { method: "Check", request: {} } },
    });
    expect(health.reflect?.call).toEqual({ ok: true, response: { status: "SERVING" } });
  });
});
