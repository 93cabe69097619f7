import { ExecutorService } from "@reins/proto";
import {
  announceListening,
  bindService,
  createLogger,
  onShutdownSignal,
  parseListenAddress,
  startServer,
} from "@reins/service-kit";

const log = createLogger("reins-executor");
const listen = parseListenAddress(process.env.REINS_EXECUTOR_LISTEN, 7003);

const server = await startServer({ ...listen, services: [bindService(ExecutorService, {})] });
announceListening(log, server.url);
onShutdownSignal(
  () => server.close(),
  (msg) => log.info(msg),
);
