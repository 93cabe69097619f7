import type { Progress } from "../render/progress.js";
import { stopDockerEngine } from "./docker-engine.js";
import { isOurProcess, stopWords, terminate, waitForExit } from "./processes.js";
import { removeState, type StackState } from "./state-file.js";

/**
 * Stops a stack described by its state file. A foreground `reins up` is asked
 * to stop its own stack (it knows the order and waits for each exit); a
 * detached stack is stopped here, newest process first. Processes whose pid no
 * longer runs what we started are left alone.
 */
export async function stopStackFromState(
  state: StackState,
  stateFile: string,
  options: { progress: Progress; keepDocker: boolean },
): Promise<void> {
  const { progress } = options;
  const up = state.up;
  if (up && isOurProcess(up.pid, up.startTime)) {
    const exited = await progress.step(
      `asking reins up (pid ${up.pid}) to stop the stack`,
      async () => {
        process.kill(up.pid, "SIGTERM");
        return waitForExit(up.pid, 60_000);
      },
      (exited) => (exited ? "reins up stopped the stack" : "reins up did not exit within 60s; stopping its processes"),
    );
    // It stopped its processes (and its Docker engine) and removed the state file.
    if (exited) return;
  }
  for (const service of [...state.services].reverse()) {
    if (!isOurProcess(service.pid, service.startTime)) continue;
    await progress.step(
      `stopping ${service.name} (pid ${service.pid})`,
      () => terminate(service.pid, 10_000),
      (how) => `${service.name} ${stopWords[how]}`,
    );
  }
  if (state.dockerStarted && !options.keepDocker) {
    await progress.step(
      "stopping the private Docker engine",
      () => stopDockerEngine(),
      () => "private Docker engine stopped",
    );
  }
  await removeState(stateFile);
}
