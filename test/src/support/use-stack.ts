import { afterAll, beforeAll } from "vitest";
import { createPythonClient, type PythonClient } from "./python-client.js";
import { startWireStack, type WireStack } from "./wire-stack.js";

export interface Fixture {
  readonly stack: WireStack;
  readonly python: PythonClient;
}

/**
 * Starts the stack and generates the Python stubs once for the calling test file, and stops
 * and removes both after its last test (also when a test failed). Returns an accessor that
 * throws if the start failed, so each test fails with that reason rather than a TypeError.
 */
export function useStack(): () => Fixture {
  let stack: WireStack | undefined;
  let python: PythonClient | undefined;
  beforeAll(async () => {
    python = await createPythonClient();
    stack = await startWireStack();
  }, 120_000);
  afterAll(async () => {
    await stack?.[Symbol.asyncDispose]();
    await python?.[Symbol.asyncDispose]();
  });
  return () => {
    if (!stack || !python) throw new Error("the stack did not start");
    return { stack, python };
  };
}
