// A bare gRPC server in its own process, for the floor of an RPC on this machine:
//
//   raw      node:http2 alone: every POST gets one empty message and grpc-status 0
//   connect  connect-node's adapter on node:http2, serving grpc.health.v1 only
//
// It prints its URL on stdout and runs until killed.

import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createHealth, ServingStatus } from "@reins/service-kit";

const mode = process.argv[2] ?? "raw";
const server =
  mode === "connect"
    ? http2.createServer(
        {},
        connectNodeAdapter({ routes: (router) => createHealth({ "": ServingStatus.SERVING }).register(router) }),
      )
    : http2.createServer();
if (mode !== "connect") {
  const empty = Buffer.alloc(5);
  server.on("stream", (stream) => {
    stream.on("error", () => {});
    stream.on("data", () => {});
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(empty);
    });
  });
}
server.listen(0, "127.0.0.1", () => {
  console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
