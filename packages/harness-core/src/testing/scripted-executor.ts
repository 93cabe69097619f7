import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { type ExecuteRequest, ExecuteResponseSchema, ExecutorService, ToolSchema } from "@reins/proto";
import { bindService, type ReinsServer, startServer } from "@reins/service-kit";

export interface ScriptedExecution {
  output: string;
  isError?: boolean;
  exitCode?: number;
}

export type ExecuteHandler = (
  request: ExecuteRequest,
  signal: AbortSignal,
) => ScriptedExecution | Promise<ScriptedExecution>;

/**
 * An ExecutorService served over real gRPC whose tool runs are scripted, for
 * tests of the loop's logic: it counts every call and how many ran at once,
 * and a handler can block until the caller cancels. Tests of real sandboxes
 * use the real executor.
 */
export interface ScriptedExecutor extends AsyncDisposable {
  readonly url: string;
  readonly calls: ExecuteRequest[];
  /** Calls cancelled by their caller. */
  readonly cancelled: ExecuteRequest[];
  readonly maxConcurrent: number;
  setHandler(handler: ExecuteHandler): void;
  close(): Promise<void>;
}

const schema = JSON.stringify({ type: "object", properties: { command: { type: "string" } }, required: ["command"] });

export async function startScriptedExecutor(handler?: ExecuteHandler): Promise<ScriptedExecutor> {
  const calls: ExecuteRequest[] = [];
  const cancelled: ExecuteRequest[] = [];
  let running = 0;
  let maxConcurrent = 0;
  let current: ExecuteHandler =
    handler ?? ((req) => ({ output: `ran ${JSON.parse(req.inputJson).command ?? req.inputJson}` }));
  const server: ReinsServer = await startServer({
    services: [
      bindService(ExecutorService, {
        listTools: () => ({
          tools: [
            create(ToolSchema, { name: "bash", description: "Run a shell command.", inputSchemaJson: schema }),
            create(ToolSchema, {
              name: "read",
              description: "Read a file (safe to repeat).",
              inputSchemaJson: schema,
              idempotent: true,
            }),
          ],
        }),
        async execute(req: ExecuteRequest, ctx: HandlerContext) {
          calls.push(req);
          running++;
          maxConcurrent = Math.max(maxConcurrent, running);
          const started = performance.now();
          try {
            const result = await current(req, ctx.signal);
            return create(ExecuteResponseSchema, {
              output: result.output,
              isError: result.isError ?? false,
              exitCode: result.exitCode ?? 0,
              duration: durationFromMs(Math.round(performance.now() - started)),
            });
          } finally {
            running--;
            if (ctx.signal.aborted) cancelled.push(req);
          }
        },
      }),
    ],
  });
  return {
    url: server.url,
    calls,
    cancelled,
    get maxConcurrent() {
      return maxConcurrent;
    },
    setHandler(next) {
      current = next;
    },
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}
