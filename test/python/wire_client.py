"""An independent gRPC client for the wire-compatibility tests, in Python.

It uses Debian's grpcio and stubs generated from proto/ by protoc and grpc_python_plugin into
a directory the caller names (nothing generated is committed). It reads one JSON job on stdin
and prints one JSON result on stdout:

  job:    {"target": "127.0.0.1:7001", "gen_dir": "/tmp/x", "metadata": [["authorization", "Bearer t"]],
           "health": ["", "reins.session.v1.SessionService"],
           "calls": [{"service": "reins.session.v1.SessionService", "method": "GetSession",
                      "request": {"sessionId": "abc"}}],   (a bidi method takes "requests": [...])
           "reflect": {"symbol": "reins.session.v1.SessionService",
                       "call": {"method": "GetSession", "request": {...}}}}
  result: {"health": {"": "SERVING", ...},
           "calls": [{"ok": true, "response": {...}} | {"ok": true, "responses": [...]}
                     | {"ok": false, "code": "NOT_FOUND", "message": "..."}],
           "reflect": {"services": [...], "files": [...], "methods": [...], "call": <outcome>}}

Messages are proto3 JSON (json_format), so the test can compare them with the other clients.
"reflect" works like grpcurl: it asks the server for its file descriptors and calls a method
with message classes built from them, without any generated code for that service.
"""

import importlib
import json
import os
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

job = json.load(sys.stdin)
gen_dir = job["gen_dir"]
sys.path.insert(0, gen_dir)
# The vendored grpc.health.v1 and grpc.reflection.v1 stubs live in a package named "grpc", which
# is also grpcio's own package: extend grpcio's package path so both resolve.
grpc.__path__.append(os.path.join(gen_dir, "grpc"))


def import_generated():
    """Imports every generated module so the default pool knows every file and service."""
    modules = {}
    for root, _dirs, files in os.walk(gen_dir):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(root, name[:-3]), gen_dir)
            dotted = rel.replace(os.sep, ".")
            modules[dotted] = importlib.import_module(dotted)
    return modules


def message_class(desc):
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(desc.file.pool).GetPrototype(desc)


def outcome(fn):
    try:
        response = fn()
        return {"ok": True, "response": json_format.MessageToDict(response)}
    except grpc.RpcError as err:
        return {"ok": False, "code": err.code().name, "message": err.details() or ""}


modules = import_generated()
metadata = [tuple(pair) for pair in job.get("metadata", [])]
channel = grpc.insecure_channel(job["target"])
grpc.channel_ready_future(channel).result(timeout=10)
result = {}

health_pb2 = modules["grpc.health.v1.health_pb2"]
health = modules["grpc.health.v1.health_pb2_grpc"].HealthStub(channel)
result["health"] = {}
for service in job.get("health", [""]):
    res = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    result["health"][service] = health_pb2.HealthCheckResponse.ServingStatus.Name(res.status)


def call_generated(spec):
    """Calls a method through the generated stub class, as an application would."""
    service = descriptor_pool.Default().FindServiceByName(spec["service"])
    method = service.methods_by_name[spec["method"]]
    module = modules[service.file.name[: -len(".proto")].replace("/", ".") + "_pb2_grpc"]
    stub = getattr(module, service.name + "Stub")(channel)
    if method.client_streaming:
        # A bidi stream: every request is sent, then every answer read until the server ends it.
        requests = [json_format.ParseDict(r, message_class(method.input_type)()) for r in spec.get("requests", [])]
        return outcome_stream(lambda: getattr(stub, method.name)(iter(requests), metadata=metadata, timeout=10))
    request = json_format.ParseDict(spec.get("request", {}), message_class(method.input_type)())
    return outcome(lambda: getattr(stub, method.name)(request, metadata=metadata, timeout=10))


def without_details(message):
    """Drops an answer's error details: their google.rpc types (e.g. a fence's ErrorInfo) are not in
    this descriptor pool without googleapis-common-protos, and only codes and messages are compared."""
    if "error" in [field.name for field in message.DESCRIPTOR.fields] and message.HasField("error"):
        del message.error.details[:]
    return message


def outcome_stream(fn):
    try:
        return {"ok": True, "responses": [json_format.MessageToDict(without_details(r)) for r in fn()]}
    except grpc.RpcError as err:
        return {"ok": False, "code": err.code().name, "message": err.details() or ""}


result["calls"] = [call_generated(spec) for spec in job.get("calls", [])]


def reflect(spec):
    pb2 = modules["grpc.reflection.v1.reflection_pb2"]
    stub = modules["grpc.reflection.v1.reflection_pb2_grpc"].ServerReflectionStub(channel)
    requests = [
        pb2.ServerReflectionRequest(list_services=""),
        pb2.ServerReflectionRequest(file_containing_symbol=spec["symbol"]),
    ]
    answers = list(stub.ServerReflectionInfo(iter(requests), timeout=10))
    services = [s.name for s in answers[0].list_services_response.service]
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in answers[1].file_descriptor_response.file_descriptor_proto
    ]
    # A private pool built only from what the server sent: nothing generated is involved.
    pool = descriptor_pool.DescriptorPool()
    pending = {f.name: f for f in files}
    while pending:
        ready = [f for f in pending.values() if all(d not in pending for d in f.dependency)]
        if not ready:
            raise RuntimeError(f"unresolvable dependencies in reflected files: {sorted(pending)}")
        for f in ready:
            pool.Add(f)
            del pending[f.name]
    service = pool.FindServiceByName(spec["symbol"])
    reflected = {
        "services": services,
        "files": [f.name for f in files],
        "methods": [m.name for m in service.methods],
    }
    if "call" in spec:
        method = service.methods_by_name[spec["call"]["method"]]
        request_class = message_class(method.input_type)
        response_class = message_class(method.output_type)
        invoke = channel.unary_unary(
            f"/{service.full_name}/{method.name}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        request = json_format.ParseDict(spec["call"].get("request", {}), request_class())
        reflected["call"] = outcome(lambda: invoke(request, metadata=metadata, timeout=10))
    return reflected


if "reflect" in job:
    result["reflect"] = reflect(job["reflect"])

channel.close()
json.dump(result, sys.stdout)
