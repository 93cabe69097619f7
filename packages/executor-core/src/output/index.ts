/**
 * A call's output: stdout and stderr demultiplexed and capped with a visible
 * marker, and the outcome turned into the string the model reads.
 */
export { formatOutcome } from "./format-output.js";
export type { StreamCapture } from "./output-collector.js";
export { createOutputCollector } from "./output-collector.js";
