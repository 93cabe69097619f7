import { SessionService } from "@reins/proto";
import {
  announceListening,
  bindService,
  createLogger,
  onShutdownSignal,
  parseListenAddress,
  startServer,
} from "@reins/service-kit";

const log = createLogger("reins-session");
const listen = parseListenAddress(process.env.REINS_SESSION_LISTEN, 7001);

const server = await startServer({ ...listen, services: [bindService(SessionService, {})] });
announceListening(log, server.url);
onShutdownSignal(
  () => server.close(),
  (msg) => log.info(msg),
);
