/**
 * @reins/launch: how Reins processes are started and found on one machine.
 *
 * What `reins up` (apps/cli) and the test launchers (@reins/testkit) must agree
 * on, kept once: the `listening` line a daemon logs and a parent waits for, free
 * loopback ports, where the built daemons, the scripts, the nats-server binary
 * and the Docker engine are, and the names of the sandbox images. It depends on
 * nothing but Node, so the CLI can use it without loading any test code.
 */
export { listeningMetricsUrl, listeningUrl } from "./listening.js";
export { freePort, portInUse } from "./ports.js";
export { daemonEntry, dockerHostCandidates, findNatsServer, repoRoot, scriptPath } from "./repo.js";
export { sandboxImages, testImage } from "./sandbox-images.js";
