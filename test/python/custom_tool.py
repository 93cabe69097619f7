"""A Python application that implements a Reins custom tool and drives a session to its end.

It uses Debian's grpcio and stubs generated from proto/ (into the directory the caller names). It
starts the session with RunSession; whenever the session goes idle with stop reason
requires_action, it runs each pending call of its own tool (`word_count`) here, sends the result
with SendCustomToolResult, and follows the session's log (SessionService.StreamEvents) until the
next idle or terminated status. One JSON job on stdin, one JSON result on stdout:

  job:    {"harness": "127.0.0.1:7002", "session": "127.0.0.1:7001", "gen_dir": "/tmp/x",
           "request": {<RunSessionRequest as proto3 JSON>}}
  result: {"calls": [{"tool_use_id": "...", "input": {...}, "output": "..."}],
           "events": [<wire name of each event, in log order>],
           "stop_reason": "STOP_REASON_END_TURN"}
          or {"error": {"code": "FAILED_PRECONDITION", "message": "..."}}
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
session_pb2 = importlib.import_module("reins.session.v1.session_pb2")
session_grpc = importlib.import_module("reins.session.v1.session_pb2_grpc")
events_pb2 = importlib.import_module("reins.session.v1.events_pb2")


def word_count(tool_input):
    """The custom tool itself: it runs here, in the client, never in the harness."""
    return str(len(str(tool_input.get("text", "")).split()))


def name_of(event):
    return events_pb2.EventType.Name(event_type[event.WhichOneof("payload")])


# The payload field of each event kind, mapped to its EventType (for the wire names below).
event_type = {
    field.name: events_pb2.EventType.Value("EVENT_TYPE_" + field.name.upper())
    for field in events_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"].fields
}

harness = harness_grpc.HarnessServiceStub(grpc.insecure_channel(job["harness"]))
sessions = session_grpc.SessionServiceStub(grpc.insecure_channel(job["session"]))
request = json_format.ParseDict(job["request"], harness_pb2.RunSessionRequest())

log, calls, handed = [], [], {}
status = None


def follow(events):
    """Records events until the session is idle or terminated; returns that status."""
    for event in events:
        log.append(event)
        kind = event.WhichOneof("payload")
        if kind == "agent_custom_tool_use":
            handed[event.agent_custom_tool_use.tool_use_id] = event.agent_custom_tool_use
        if kind == "session_status" and event.session_status.state in (
            events_pb2.RUN_STATE_IDLE,
            events_pb2.RUN_STATE_TERMINATED,
        ):
            return event.session_status
    return None


try:
    status = follow(r.event for r in harness.RunSession(request, timeout=60) if r.WhichOneof("item") == "event")
    session_id = request.session_id
    while status is not None and status.stop_reason == events_pb2.STOP_REASON_REQUIRES_ACTION:
        after = log[-1].seq
        for tool_use_id in status.pending_tool_use_ids:
            use = handed[tool_use_id]
            tool_input = json.loads(use.input_json)
            output = word_count(tool_input)
            harness.SendCustomToolResult(
                harness_pb2.SendCustomToolResultRequest(
                    session_id=session_id, tool_use_id=tool_use_id, output=output
                ),
                timeout=10,
            )
            calls.append({"tool_use_id": tool_use_id, "input": tool_input, "output": output})
        stream = sessions.StreamEvents(
            session_pb2.StreamEventsRequest(session_id=session_id, after_seq=after), timeout=60
        )
        status = follow(r.event for r in stream)
        stream.cancel()
except grpc.RpcError as err:
    print(json.dumps({"error": {"code": err.code().name, "message": err.details()}}))
    sys.exit(0)

print(
    json.dumps(
        {
            "calls": calls,
            "events": [name_of(e) for e in log],
            "stop_reason": events_pb2.StopReason.Name(status.stop_reason) if status else None,
        }
    )
)
