"""Runs a whole Reins session through HarnessService.RunSession, from Python.

It uses Debian's grpcio and stubs generated from proto/ (by protoc and grpc_python_plugin, into
the directory the caller names), exactly as a Python application would. It reads one JSON job on
stdin and prints one JSON result on stdout:

  job:    {"target": "127.0.0.1:7002", "gen_dir": "/tmp/x",
           "request": {"config": {"model": "...", "tools": ["sh"]}, "message": "..."}}
  result: {"items": [{"event": "session.created", "seq": "1"} | {"delta": "text", "turn": 1}, ...],
           "text": {"1": "all text of turn 1", ...},
           "events": [<each event as proto3 JSON>]}
          or {"error": {"code": "INVALID_ARGUMENT", "message": "..."}}

The request is proto3 JSON (json_format), so the test writes it the way any client would.
"""

import importlib
import json
import sys

import grpc
from google.protobuf import json_format

job = json.load(sys.stdin)
sys.path.insert(0, job["gen_dir"])
harness_pb2 = importlib.import_module("reins.harness.v1.harness_pb2")
harness_grpc = importlib.import_module("reins.harness.v1.harness_pb2_grpc")
events_pb2 = importlib.import_module("reins.session.v1.events_pb2")

# Wire names of the event payloads, as Claude Managed Agents spells them.
names = {
    "session_created": "session.created",
    "user_message": "user.message",
    "user_interrupt": "user.interrupt",
    "agent_message": "agent.message",
    "agent_tool_use_started": "agent.tool_use_started",
    "agent_tool_result": "agent.tool_result",
    "session_status": "session.status",
    "span_model_request": "span.model_request",
    "session_error": "session.error",
}

channel = grpc.insecure_channel(job["target"])
grpc.channel_ready_future(channel).result(timeout=10)
stub = harness_grpc.HarnessServiceStub(channel)
request = json_format.ParseDict(job["request"], harness_pb2.RunSessionRequest())

items, events, text = [], [], {}
try:
    for response in stub.RunSession(request, timeout=job.get("timeout", 60)):
        kind = response.WhichOneof("item")
        if kind == "event":
            event = response.event
            items.append({"event": names[event.WhichOneof("payload")], "seq": str(event.seq)})
            events.append(json_format.MessageToDict(event))
        elif kind == "delta":
            delta = response.delta
            items.append({"delta": delta.text, "turn": delta.turn})
            text[str(delta.turn)] = text.get(str(delta.turn), "") + delta.text
except grpc.RpcError as err:
    print(json.dumps({"error": {"code": err.code().name, "message": err.details() or ""}}))
    sys.exit(0)

print(json.dumps({"items": items, "text": text, "events": events}))
