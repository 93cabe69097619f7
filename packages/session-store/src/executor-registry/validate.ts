import type { ExecutorInfo, ListExecutorsRequest } from "@reins/proto";
import { executorIdPattern, quoteForMessage } from "@reins/service-kit";
import { InvalidRequestError } from "../errors.js";

// Bounds on one registry entry. Together they keep an encoded ExecutorInfo well
// under the bucket's max value size (maxExecutorEntryBytes), so a heartbeat is
// refused with a message naming the field, never by NATS.
export const registryLimits = {
  addressChars: 2048,
  tools: 512,
  toolNameChars: 64,
  runtimes: 16,
  runtimeChars: 64,
  labels: 64,
  labelKeyChars: 63,
  labelValueChars: 256,
  maxCapacity: 100_000,
  maxQueuedCalls: 10_000_000,
} as const;

const incarnationPattern = /^[A-Za-z0-9_.:-]{1,128}$/;
const digestPattern = /^[0-9a-f]{64}$/;
// Anthropic's tool name rule; the executor's catalog follows it.
const toolNamePattern = /^[A-Za-z0-9_-]{1,64}$/;
const runtimePattern = /^[A-Za-z0-9_.-]{1,64}$/;
const labelKeyPattern = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const controlChars = /[\u0000-\u001f\u007f]/;

const bad = (message: string) => new InvalidRequestError(message);

export function checkExecutorId(id: string, field = "id"): void {
  if (id === "") throw bad(`${field} is required`);
  if (!executorIdPattern.test(id)) {
    throw bad(
      `${field} ${quoteForMessage(id)} is invalid: use 1-64 characters from A-Z a-z 0-9 _ - (no '.', '*', '>' or spaces)`,
    );
  }
}

function checkAddress(address: string): void {
  if (address === "") throw bad("executor.address is required: the URL harnesses reach its ExecutorService at");
  if (address.length > registryLimits.addressChars) {
    throw bad(`executor.address is longer than ${registryLimits.addressChars} characters`);
  }
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw bad(`executor.address ${quoteForMessage(address)} is not a URL (expected e.g. "http://10.0.0.7:7003")`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw bad(`executor.address ${quoteForMessage(address)} is not an http(s) URL`);
  }
  // Credentials in the address would be handed to every harness that lists it.
  if (url.username !== "" || url.password !== "") {
    throw bad("executor.address must not carry credentials (user:password@)");
  }
  if (url.search !== "" || url.hash !== "") {
    throw bad(`executor.address ${quoteForMessage(address)} must not have a query or fragment`);
  }
}

export function checkToolNames(tools: readonly string[], field: string): void {
  if (tools.length > registryLimits.tools)
    throw bad(`${field} lists ${tools.length} tools, over the maximum of ${registryLimits.tools}`);
  const seen = new Set<string>();
  for (const [i, tool] of tools.entries()) {
    if (!toolNamePattern.test(tool)) {
      throw bad(`${field}[${i}] ${quoteForMessage(tool)} is not a tool name: use 1-64 characters from A-Z a-z 0-9 _ -`);
    }
    if (seen.has(tool)) throw bad(`${field}[${i}]: tool ${JSON.stringify(tool)} is listed twice`);
    seen.add(tool);
  }
}

export function checkLabels(labels: Readonly<Record<string, string>>, field: string): void {
  const entries = Object.entries(labels);
  if (entries.length > registryLimits.labels) {
    throw bad(`${field} has ${entries.length} labels, over the maximum of ${registryLimits.labels}`);
  }
  for (const [key, value] of entries) {
    if (!labelKeyPattern.test(key)) {
      throw bad(
        `${field} key ${quoteForMessage(key)} is invalid: use 1-63 characters from A-Z a-z 0-9 _ . / -, starting with a letter or digit`,
      );
    }
    if (value.length > registryLimits.labelValueChars) {
      throw bad(`${field}[${JSON.stringify(key)}] is longer than ${registryLimits.labelValueChars} characters`);
    }
    if (controlChars.test(value)) throw bad(`${field}[${JSON.stringify(key)}] contains control characters`);
  }
}

/** Checks a heartbeat's entry; throws InvalidRequestError naming the field that is wrong. */
export function checkExecutorInfo(info: ExecutorInfo | undefined): asserts info is ExecutorInfo {
  if (!info) throw bad("executor is required");
  checkExecutorId(info.id, "executor.id");
  checkAddress(info.address);
  if (!incarnationPattern.test(info.incarnation)) {
    throw bad(
      `executor.incarnation ${info.incarnation === "" ? "is required" : `${quoteForMessage(info.incarnation)} is invalid`}: use 1-128 characters from A-Z a-z 0-9 _ - . : (a random id per process)`,
    );
  }
  if (info.catalogDigest !== "" && !digestPattern.test(info.catalogDigest)) {
    throw bad(`executor.catalog_digest ${quoteForMessage(info.catalogDigest)} is not a SHA-256 in lower-case hex`);
  }
  checkToolNames(info.tools, "executor.tools");
  if (info.runtimes.length > registryLimits.runtimes) {
    throw bad(
      `executor.runtimes lists ${info.runtimes.length} runtimes, over the maximum of ${registryLimits.runtimes}`,
    );
  }
  for (const [i, runtime] of info.runtimes.entries()) {
    if (!runtimePattern.test(runtime)) {
      throw bad(
        `executor.runtimes[${i}] ${quoteForMessage(runtime)} is invalid: use 1-64 characters from A-Z a-z 0-9 _ . -`,
      );
    }
  }
  checkLabels(info.labels, "executor.labels");
  if (info.capacity < 1 || info.capacity > registryLimits.maxCapacity) {
    throw bad(
      `executor.capacity ${info.capacity} is invalid: expected 1 to ${registryLimits.maxCapacity} calls at once`,
    );
  }
  if (info.runningCalls > info.capacity) {
    throw bad(`executor.running_calls ${info.runningCalls} is over its capacity of ${info.capacity}`);
  }
  if (info.queuedCalls > registryLimits.maxQueuedCalls) {
    throw bad(`executor.queued_calls ${info.queuedCalls} is over the maximum of ${registryLimits.maxQueuedCalls}`);
  }
}

export function checkListRequest(req: ListExecutorsRequest): void {
  checkLabels(req.selector, "selector");
  checkToolNames(req.tools, "tools");
}
