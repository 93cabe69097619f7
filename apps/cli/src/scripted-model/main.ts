import { startFakeAnthropic } from "@reins/fake-anthropic";
import { createDemoScript } from "./demo-script.js";

// The scripted model as a process of the local stack: the fake Messages API
// (real HTTP and SSE, so the harness's real SDK talks to it) answering with the
// demo script. Configured by REINS_SCRIPTED_MODEL_PORT and _KEY; announces its
// URL like the daemons do.
const port = Number(process.env.REINS_SCRIPTED_MODEL_PORT ?? 0);
const apiKey = process.env.REINS_SCRIPTED_MODEL_KEY || undefined;
const server = await startFakeAnthropic({ script: createDemoScript(), port, ...(apiKey ? { apiKey } : {}) });
const log = (msg: string, extra: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ time: Date.now(), name: "reins-scripted-model", msg, ...extra })}\n`);
log("listening", { url: server.url });

let stopping = false;
const stop = (signal: string) => {
  if (stopping) process.exit(130);
  stopping = true;
  log(`${signal}: stopping`);
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
