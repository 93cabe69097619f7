import { HarnessService } from "@reins/proto";
import {
  announceListening,
  bindService,
  createLogger,
  onShutdownSignal,
  parseListenAddress,
  startServer,
} from "@reins/service-kit";

const log = createLogger("reins-harness");
const listen = parseListenAddress(process.env.REINS_HARNESS_LISTEN, 7002);

const server = await startServer({ ...listen, services: [bindService(HarnessService, {})] });
announceListening(log, server.url);
onShutdownSignal(
  () => server.close(),
  (msg) => log.info(msg),
);
