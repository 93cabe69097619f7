import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PermissionPolicy, RunState, ToolConfirmationResult } from "@reins/proto";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleStack, liveAnswer, startConsoleStack, tokens } from "./testing/console-stack.js";

// The console in a real Chromium against the real daemons (tokens, tenants and CORS on),
// the fake Messages API and real containers. Every wait is on a state of the page or of
// the services, never on time. Screenshots go to apps/console/screenshots/.

const screenshots = fileURLToPath(new URL("../screenshots/", import.meta.url));

let stack: ConsoleStack;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  stack = await startConsoleStack();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox"] });
  await mkdir(screenshots, { recursive: true });
}, 120_000);

// What every page asked for beyond its own origin and the two services, and what its CSP refused.
const strayRequests: string[] = [];
const cspViolations: string[] = [];

afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
  // Nothing from a CDN or anywhere else, and nothing the policy had to block.
  expect(strayRequests.splice(0)).toEqual([]);
  expect(cspViolations.splice(0)).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.[Symbol.asyncDispose]();
});

/** A fresh tab (its own sessionStorage) at `path`. */
async function open(urlPath: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  const allowed = new Set([stack.consoleUrl, stack.sessionUrl, stack.harnessUrl].map((u) => new URL(u).origin));
  page.on("request", (req) => {
    if (!allowed.has(new URL(req.url()).origin)) strayRequests.push(req.url());
  });
  page.on("console", (msg) => {
    if (msg.text().includes("Content Security Policy")) cspViolations.push(msg.text());
  });
  await page.goto(`${stack.consoleUrl}${urlPath}`);
  return page;
}

async function enterToken(page: Page, token: string): Promise<void> {
  await page.getByLabel("bearer token").fill(token);
  await page.getByRole("button", { name: "use token" }).click();
  await page.getByText("token set for this tab").waitFor();
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(screenshots, name), fullPage: true });
const event = (page: Page, type: string, text?: string) =>
  page.locator(`li[data-type="${type}"]`).filter(text === undefined ? {} : { hasText: text });
const sessionIdOf = (page: Page) => decodeURIComponent(new URL(page.url()).pathname.split("/").at(-1) ?? "");

async function settled(token: string, sessionId: string, state = RunState.IDLE): Promise<void> {
  await expect
    .poll(async () => (await stack.sessions(token).getSession({ sessionId })).session?.state, { timeout: 30_000 })
    .toBe(state);
}

// Generous: on a loaded machine a session with a container call takes seconds, and every wait is on an event.
describe("the web console in Chromium", { timeout: 120_000 }, () => {
  it("says what the service said without a token; with one, lists only its tenant's sessions, live, by state", async () => {
    const page = await open("/");
    await page.getByText("[unauthenticated]").first().waitFor();
    await enterToken(page, tokens.acme);
    await page.locator("table.sessions, .sessions-page .meta").first().waitFor();

    // Sessions started after the page loaded appear without a reload; another tenant's never do.
    const acme = await stack.harness(tokens.acme).startSession({
      config: { tools: ["sh"], toolPermissions: { sh: PermissionPolicy.ALWAYS_ASK } },
      message: "[ask] list me",
      title: "acme waits for approval",
    });
    const globex = await stack.harness(tokens.globex).startSession({
      config: { tools: ["sh"], toolPermissions: { sh: PermissionPolicy.ALWAYS_ASK } },
      message: "[ask] hide me",
      title: "globex private",
    });
    await settled(tokens.acme, acme.sessionId);
    await settled(tokens.globex, globex.sessionId);
    const row = page.locator(`tr[data-session-id="${acme.sessionId}"]`);
    await row.filter({ hasText: "requires_action" }).waitFor();
    expect(await row.textContent()).toContain("acme waits for approval");
    expect(await page.locator(`tr[data-session-id="${globex.sessionId}"]`).count()).toBe(0);

    await page.getByRole("button", { name: "running", exact: true }).click();
    await row.waitFor({ state: "detached" });
    await page.getByRole("button", { name: "idle", exact: true }).click();
    await row.waitFor();
    await shot(page, "sessions.png");

    // A deep link opens the session at its event.
    await page.goto(`${stack.consoleUrl}/sessions/${acme.sessionId}#seq-3`);
    const target = page.locator("#seq-3");
    await target.and(page.locator(".targeted")).waitFor();
    expect(await target.isVisible()).toBe(true);
    await shot(page, "deep-link.png");
  });

  it("starts a session from the form, follows its tool call and text live, and resumes a reload with no gap or duplicate", async () => {
    const page = await open("/");
    await enterToken(page, tokens.acme);
    await page.getByText("Start a session").click();
    await page.getByLabel("task").fill("[live] run it and tell me at length");
    await page.getByLabel("title").fill("live session");
    await page.getByRole("checkbox", { name: "sh" }).check();
    await page.getByRole("button", { name: "start" }).click();
    await page.waitForURL(/\/sessions\/[^/]+$/);
    const sessionId = sessionIdOf(page);

    // The tool call arrives while the page watches.
    await event(page, "agent.tool_use_started", "echo ran-in-a-container").waitFor();
    await event(page, "agent.tool_result", "ran-in-a-container").waitFor();

    // The next answer streams once this page reads the session's live text.
    await stack.gates.requested.promise;
    await expect.poll(() => stack.textReaders(sessionId), { timeout: 15_000 }).toBeGreaterThan(0);
    stack.gates.start.resolve();
    const live = page.getByTestId("live-text");
    await live.filter({ hasText: "streamed-word-1" }).waitFor();
    expect(await event(page, "agent.message", "streamed-word-1").count()).toBe(0);
    await shot(page, "session-live.png");

    // Reloaded mid-answer: the token is still the tab's, the timeline is replayed.
    await page.reload();
    await page.getByText("token set for this tab").waitFor();
    await event(page, "agent.tool_result", "ran-in-a-container").waitFor();
    stack.gates.finish.resolve();
    await event(page, "agent.message", "streamed-word-40").waitFor();
    await page.getByTestId("session-state").filter({ hasText: "idle · end_turn" }).waitFor();
    await settled(tokens.acme, sessionId);

    const lastSeq = (await stack.sessions(tokens.acme).getSession({ sessionId })).session?.lastSeq ?? 0n;
    await page
      .getByTestId("last-seq")
      .filter({ hasText: new RegExp(`^${lastSeq}$`) })
      .waitFor();
    const seqs = await page.locator("li[data-seq]").evaluateAll((els) => els.map((e) => e.getAttribute("data-seq")));
    expect(seqs).toEqual(Array.from({ length: Number(lastSeq) }, (_, i) => String(i + 1)));
    expect(await live.count()).toBe(0);
    expect(await event(page, "agent.message", liveAnswer).count()).toBe(1);
    await shot(page, "session.png");
  });

  it("approves a pending tool call, then sends the session a message", async () => {
    const { sessionId } = await stack.harness(tokens.acme).startSession({
      config: { tools: ["sh"], toolPermissions: { sh: PermissionPolicy.ALWAYS_ASK } },
      message: "[ask] run it once I say so",
      title: "approval",
    });
    const page = await open(`/sessions/${sessionId}`);
    await enterToken(page, tokens.acme);
    const pending = page.locator('[data-tool-use-id="toolu_approved_call"]');
    await pending.filter({ hasText: "echo approved-call" }).waitFor();
    await shot(page, "session-approval.png");

    await pending.getByRole("button", { name: "approve" }).click();
    await event(page, "user.tool_confirmation", "allowed toolu_approved_call").waitFor();
    await event(page, "agent.tool_result", "approved-call").waitFor();
    await event(page, "agent.message", "Results: approved-call").waitFor();
    await pending.waitFor({ state: "detached" });
    await page.getByTestId("session-state").filter({ hasText: "idle · end_turn" }).waitFor();

    await page.getByLabel("message", { exact: true }).fill("thanks for that");
    await page.getByRole("button", { name: "send" }).click();
    await event(page, "user.message", "thanks for that").waitFor();
    await event(page, "agent.message", "You said: thanks for that").waitFor();
  });

  it("denies a pending tool call with a reason the model reads", async () => {
    const { sessionId } = await stack.harness(tokens.acme).startSession({
      config: { tools: ["sh"], toolPermissions: { sh: PermissionPolicy.ALWAYS_ASK } },
      message: "[ask] but I will say no",
      title: "denial",
    });
    const page = await open(`/sessions/${sessionId}`);
    await enterToken(page, tokens.acme);
    const pending = page.locator('[data-tool-use-id="toolu_approved_call"]');
    await pending.waitFor();
    await pending.getByLabel("reason to deny").fill("not on this machine");
    await pending.getByRole("button", { name: "deny" }).click();
    await event(page, "user.tool_confirmation", "denied toolu_approved_call: not on this machine").waitFor();
    await event(page, "agent.message", "not on this machine").waitFor();
    expect(await event(page, "agent.tool_use_started").count()).toBe(0);
  });

  it("sends a custom tool's result typed by the user", async () => {
    const { sessionId } = await stack.harness(tokens.acme).startSession({
      config: {
        customTools: [{ name: "lookup", description: "A customer record.", inputSchemaJson: '{"type":"object"}' }],
      },
      message: "[custom] look up customer 42",
      title: "custom tool",
    });
    const page = await open(`/sessions/${sessionId}`);
    await enterToken(page, tokens.acme);
    const pending = page.locator('[data-tool-use-id="toolu_lookup"]');
    await pending.filter({ hasText: '"customer": "42"' }).waitFor();
    await pending.getByLabel("tool result").fill("customer 42 is Ada");
    await pending.getByRole("button", { name: "send result" }).click();
    await event(page, "user.custom_tool_result", "customer 42 is Ada").waitFor();
    await event(page, "agent.message", "Results: customer 42 is Ada").waitFor();
    await pending.waitFor({ state: "detached" });
  });

  it("reconnects after the session service restarts and goes on with no gap or duplicate", async () => {
    const { sessionId } = await stack.harness(tokens.acme).startSession({
      config: { tools: ["sh"], toolPermissions: { sh: PermissionPolicy.ALWAYS_ASK } },
      message: "[ask] survive a restart",
      title: "restart",
    });
    await settled(tokens.acme, sessionId);
    const page = await open(`/sessions/${sessionId}`);
    await enterToken(page, tokens.acme);
    await page.locator('[data-tool-use-id="toolu_approved_call"]').waitFor();

    await stack.restartSession();
    await page.locator(".banner").filter({ hasText: "(reconnecting)" }).waitFor();
    // The harness reaches the new daemon too; approving from another client continues the session.
    await expect
      .poll(
        () =>
          stack
            .harness(tokens.acme)
            .confirmToolUse({ sessionId, toolUseId: "toolu_approved_call", result: ToolConfirmationResult.ALLOW })
            .then(
              () => true,
              () => false,
            ),
        { timeout: 30_000 },
      )
      .toBe(true);
    await event(page, "agent.message", "Results: approved-call").waitFor({ timeout: 30_000 });
    await settled(tokens.acme, sessionId);
    const lastSeq = (await stack.sessions(tokens.acme).getSession({ sessionId })).session?.lastSeq ?? 0n;
    await page
      .getByTestId("last-seq")
      .filter({ hasText: new RegExp(`^${lastSeq}$`) })
      .waitFor();
    const seqs = await page.locator("li[data-seq]").evaluateAll((els) => els.map((e) => e.getAttribute("data-seq")));
    expect(seqs).toEqual(Array.from({ length: Number(lastSeq) }, (_, i) => String(i + 1)));
    expect(await page.locator(".banner").count()).toBe(0);
  });

  it("interrupts a turn in progress", async () => {
    const { sessionId } = await stack.harness(tokens.acme).startSession({
      config: { tools: [] },
      message: "[slow] take your time",
      title: "slow",
    });
    const page = await open(`/sessions/${sessionId}`);
    await enterToken(page, tokens.acme);
    await page.getByTestId("session-state").filter({ hasText: "running" }).waitFor();
    await page.getByRole("button", { name: "interrupt" }).click();
    await event(page, "user.interrupt", "interrupted from the console").waitFor();
    await page.getByTestId("session-state").filter({ hasText: "idle · interrupted" }).waitFor();
  });

  it("shows another tenant's session as the service refuses it", async () => {
    const { sessionId } = await stack.harness(tokens.globex).startSession({
      config: { tools: [] },
      message: "[slow] private",
      title: "globex only",
    });
    const page = await open(`/sessions/${sessionId}`);
    await enterToken(page, tokens.acme);
    await page.locator(".banner").filter({ hasText: "[not_found]" }).first().waitFor();
    expect(await page.locator("li[data-seq]").count()).toBe(0);
    await stack.harness(tokens.globex).interrupt({ sessionId });
  });
});
