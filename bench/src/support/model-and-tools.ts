// The fake Messages API (answering with toolTurnsScript) and a null executor in
// a process of their own, as the real ones are: in the harness's process their
// work (encoding the answer's SSE, parsing each request) would hold up its event
// loop and be counted as harness overhead.
//
//   model-and-tools.ts [chunk delay ms]   (see toolTurnsScript)
//
// Prints {"model": url, "executor": url} on stdout; exits when stdin closes.

import { startFakeAnthropic } from "@reins/fake-anthropic";
import { startNullExecutor, toolTurnsScript } from "./tool-turns.js";

const fake = await startFakeAnthropic({ script: toolTurnsScript(Number(process.argv[2] ?? 0)) });
const executor = await startNullExecutor();
console.log(JSON.stringify({ model: fake.url, executor: executor.url }));
process.stdin.resume();
process.stdin.on("end", async () => {
  await executor.close();
  await fake[Symbol.asyncDispose]();
  process.exit(0);
});
