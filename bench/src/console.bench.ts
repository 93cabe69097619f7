// Web console benchmark: how long Chromium takes to replay a long session's
// timeline into the page, against the same replay read by a Node client.
//
//   pnpm bench console
//   (or: cd bench && node --conditions=@reins/source --import tsx src/console.bench.ts)
//
// Needs the built session daemon and console (`pnpm exec turbo run build`) and
// Debian's Chromium. Subject: navigation to /sessions/<id> until the last
// event's anchor (#seq-<n>) is in the DOM: config.json, the bundle,
// StreamEvents over Connect-Web, the reducer and React. Baseline: StreamEvents
// from seq 0 to the last event with connect-node in this process. Rounds
// alternate, so load from other processes hits both alike.

import { loadavg } from "node:os";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Event, EventSchema, SessionService } from "@reins/proto";
import { freePort, startDaemon, startNatsServer } from "@reins/testkit";
import { chromium } from "playwright-core";
import { uuidv7 } from "uuidv7";

const sizes = [200, 2_000];
const rounds = 5;
const now = () => performance.now();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

// A tool call's worth of events, repeated: what a long agent session's log looks like.
function toolTurn(i: number): Event[] {
  const id = `toolu_${i}`;
  return [
    create(EventSchema, {
      id: uuidv7(),
      payload: {
        case: "agentMessage",
        value: {
          model: "bench",
          content: [
            { block: { case: "text", value: { text: `Step ${i}: listing the files again.` } } },
            { block: { case: "toolUse", value: { id, name: "sh", inputJson: '{"command":"ls -la"}' } } },
          ],
        },
      },
    }),
    create(EventSchema, {
      id: uuidv7(),
      payload: { case: "agentToolUseStarted", value: { toolUseId: id, name: "sh", inputJson: '{"command":"ls -la"}' } },
    }),
    create(EventSchema, {
      id: uuidv7(),
      payload: {
        case: "agentToolResult",
        value: { toolUseId: id, name: "sh", output: Array.from({ length: 20 }, (_, l) => `file-${l}.txt`).join("\n") },
      },
    }),
    create(EventSchema, {
      id: uuidv7(),
      payload: { case: "spanModelRequest", value: { model: "bench", costUsd: 0.001 } },
    }),
  ];
}

await using nats = await startNatsServer();
const consolePort = await freePort();
const origin = `http://127.0.0.1:${consolePort}`;
await using session = await startDaemon({
  app: "session",
  env: { REINS_SESSION_LISTEN: "127.0.0.1:0", REINS_NATS_URL: nats.url, REINS_SESSION_CORS_ORIGINS: origin },
});
await using webConsole = await startDaemon({
  app: "console",
  env: {
    REINS_CONSOLE_LISTEN: `127.0.0.1:${consolePort}`,
    REINS_CONSOLE_SESSION_URL: session.url,
    // No harness: live text is not part of a replay.
    REINS_CONSOLE_HARNESS_URL: `http://127.0.0.1:${await freePort()}`,
  },
});
const sessions = createClient(SessionService, createConnectTransport({ baseUrl: session.url, httpVersion: "1.1" }));
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox"] });

try {
  console.log(`load average ${loadavg()[0]?.toFixed(1)}; ${rounds} rounds, medians`);
  console.log("| events | console replay | Node client replay | console / client |");
  console.log("| ------ | -------------- | ------------------ | ---------------- |");
  for (const size of sizes) {
    const sessionId = `bench-console-${size}`;
    await sessions.createSession({ sessionId, config: { model: "bench" }, title: `${size} events` });
    let lastSeq = 1n;
    const events = Array.from({ length: Math.ceil((size - 1) / 4) }, (_, i) => toolTurn(i)).flat();
    for (let i = 0; i < events.length; i += 100) {
      const res = await sessions.appendEvents({
        sessionId,
        expectedLastSeq: lastSeq,
        events: events.slice(i, i + 100),
      });
      lastSeq = res.lastSeq;
    }
    const subject: number[] = [];
    const baseline: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = now();
      for await (const { event } of sessions.streamEvents({ sessionId, afterSeq: 0n })) {
        if (event?.seq === lastSeq) break;
      }
      baseline.push(now() - t0);

      const context = await browser.newContext();
      const page = await context.newPage();
      const t1 = now();
      await page.goto(`${webConsole.url}/sessions/${sessionId}`);
      await page.locator(`#seq-${lastSeq}`).waitFor({ state: "attached", timeout: 120_000 });
      subject.push(now() - t1);
      await context.close();
    }
    const s = median(subject);
    const b = median(baseline);
    console.log(`| ${lastSeq} | ${s.toFixed(0)} ms | ${b.toFixed(0)} ms | ${(s / b).toFixed(1)}x |`);
  }
} finally {
  await browser.close();
}
