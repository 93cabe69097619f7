#!/usr/bin/env node
import { announceListening, createLogger, loadConfigOrExit, onShutdownSignal, startOrExit } from "@reins/service-kit";
import { loadConsoleConfig } from "./config.js";
import { startConsoleServer } from "./console-server.js";
import { loadStaticSite } from "./static-site.js";

// The web console's server: the built app, its config.json and a strict CSP.
// The browser then calls the session and harness services itself.
const log = createLogger("reins-console");
const config = await loadConfigOrExit(log, () => loadConsoleConfig(process.env));
await startOrExit(log, async () => {
  const site = await loadStaticSite(config.webRoot);
  const server = await startConsoleServer(config, site);
  announceListening(log, server.url, {
    session: config.sessionUrl,
    harness: config.harnessUrl,
    files: site.files,
    bytes: site.bytes,
  });
  onShutdownSignal(
    () => server.close(),
    (msg) => log.info(msg),
  );
});
