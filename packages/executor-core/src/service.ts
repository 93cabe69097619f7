import { create } from "@bufbuild/protobuf";
import { type Duration, DurationSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  DeleteWorkspaceResponseSchema,
  ExecuteResponseSchema,
  type ExecutorService,
  ListToolsResponseSchema,
  ToolSchema,
} from "@reins/proto";
import type { Executor } from "./executor.js";

function duration(ms: number): Duration {
  const whole = Math.floor(ms);
  return create(DurationSchema, {
    seconds: BigInt(Math.floor(whole / 1000)),
    nanos: Math.round((ms - Math.floor(ms / 1000) * 1000) * 1e6),
  });
}

/**
 * The ExecutorService handlers over an executor. The handler's AbortSignal
 * (client cancel, deadline, server shutdown) reaches the running container,
 * which is killed and removed.
 */
export function createExecutorServiceImpl(executor: Executor): ServiceImpl<typeof ExecutorService> {
  // Built per call: a tool on the engine's default runtime is known only once the engine said it.
  const tools = () =>
    executor.catalog.tools.map((t) =>
      create(ToolSchema, {
        name: t.name,
        description: t.description,
        inputSchemaJson: JSON.stringify(t.inputSchema),
        idempotent: t.idempotent,
        timeout: duration(t.timeoutMs),
        runtime: executor.runtimeOf(t) ?? "",
      }),
    );
  return {
    async execute(req, ctx) {
      const result = await executor.execute(
        { name: req.name, inputJson: req.inputJson, sessionId: req.sessionId, callId: req.callId },
        ctx.signal,
      );
      return create(ExecuteResponseSchema, {
        output: result.output,
        isError: result.isError,
        exitCode: result.exitCode,
        duration: duration(result.durationMs),
        truncated: result.truncated,
        timedOut: result.timedOut,
        stdout: result.stdout,
        stderr: result.stderr,
        oomKilled: result.oomKilled,
        warm: result.warm,
      });
    },
    listTools() {
      return create(ListToolsResponseSchema, { tools: tools() });
    },
    async deleteWorkspace(req) {
      const existed = await executor.deleteWorkspace(req.sessionId);
      return create(DeleteWorkspaceResponseSchema, { existed });
    },
  };
}
