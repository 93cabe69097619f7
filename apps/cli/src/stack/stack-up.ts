import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import {
  daemonEntry,
  findNatsServer,
  freePort,
  listeningMetricsUrl,
  portInUse,
  repoRoot,
  sandboxImages,
} from "@reins/launch";
import { parseMetricsListen } from "@reins/service-kit";
import { CliError, ExitCode } from "../cli-error.js";
import type { Progress } from "../render/progress.js";
import { type DockerEngine, ensureDockerEngine, stopDockerEngine } from "./docker-engine.js";
import { ensureSandboxImages } from "./images.js";
import type { StackPaths } from "./paths.js";
import { isOurProcess, processStartTime, stopWords } from "./processes.js";
import {
  daemonEnv,
  startDaemonProcess,
  startNats,
  startScriptedModel,
  writeExecutorToken,
  writeRegistrationTokens,
} from "./services.js";
import type { Spawned } from "./spawn-logged.js";
import { readState, removeState, type StackState } from "./state-file.js";

export interface UpOptions {
  readonly paths: StackPaths;
  /** 0 = a free port. */
  readonly ports: { nats: number; executor: number; session: number; harness: number; console: number };
  /** Start the web console (apps/console), allowed by the services' CORS. */
  readonly console: boolean;
  /** Skip the Docker check and image build (the executor then reports errors per call). */
  readonly docker: boolean;
  readonly images: "full" | "tiny" | "none";
  /** Start the scripted model for the harness; undefined: only when no ANTHROPIC_* is set. */
  readonly scriptedModel: boolean | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly progress: Progress;
  readonly signal: AbortSignal;
}

/** A stack `reins up` started: its processes in start order. */
export interface StartedStack {
  readonly processes: readonly Spawned[];
  readonly docker: DockerEngine | undefined;
  readonly tokenFile: string;
}

/** Refuses to start over a stack that is still running; clears a stale state file. */
export async function assertNoRunningStack(paths: StackPaths): Promise<void> {
  const state = await readState(paths.stateFile);
  if (!state) return;
  const alive = state.services.filter((s) => isOurProcess(s.pid, s.startTime));
  const upAlive = state.up !== undefined && isOurProcess(state.up.pid, state.up.startTime);
  if (alive.length > 0 || upAlive) {
    const where = state.services.find((s) => s.name === "harness")?.url ?? "";
    throw new CliError(
      `a stack is already running from ${paths.dir} (started ${state.startedAt}${where ? `, harness ${where}` : ""}); stop it with \`reins down\``,
    );
  }
  await removeState(paths.stateFile);
}

/**
 * Fails before anything starts when a daemon is not built or nats-server is
 * missing; returns the nats-server path.
 */
function checkPrerequisites(env: NodeJS.ProcessEnv, withConsole: boolean): string {
  const apps = ["executor", "session", "harness", ...(withConsole ? ["console"] : [])];
  const missing = apps.filter((app) => !existsSync(daemonEntry(app)));
  if (missing.length > 0) {
    throw new CliError(
      `not built: ${missing.map((app) => `apps/${app}`).join(", ")}; run \`pnpm turbo run build\` in ${repoRoot}`,
    );
  }
  const nats = findNatsServer(env);
  if (!nats) {
    throw new CliError(
      `nats-server not found (${env.NATS_SERVER_BIN ? `NATS_SERVER_BIN=${env.NATS_SERVER_BIN}` : "PATH, /usr/sbin"}); install it with scripts/ensure-nats.sh`,
    );
  }
  return nats;
}

async function checkPorts(ports: UpOptions["ports"], env: NodeJS.ProcessEnv): Promise<void> {
  for (const [name, port] of Object.entries(ports)) {
    if (port !== 0 && (await portInUse(port))) {
      throw new CliError(
        `port ${port} (${name}) is already in use; stop what holds it, or pass --free-ports to use any free ports`,
      );
    }
  }
  // Each daemon's metrics listener too (its default port beside a fixed daemon port), before anything starts.
  const metrics = [
    ["session", 9401, ports.session],
    ["harness", 9402, ports.harness],
    ["executor", 9403, ports.executor],
  ] as const;
  for (const [name, defaultPort, daemonPort] of metrics) {
    const variable = `REINS_${name.toUpperCase()}_METRICS_LISTEN`;
    let listen: { host: string; port: number } | undefined;
    try {
      listen = parseMetricsListen(env[variable], defaultPort, daemonPort);
    } catch (err) {
      throw new CliError(`${variable}: ${(err as Error).message}`, ExitCode.usage);
    }
    if (listen && listen.port !== 0 && (await portInUse(listen.port))) {
      throw new CliError(
        `port ${listen.port} (${name} metrics) is already in use; stop what holds it, set ${variable} (another port, or off), or pass --free-ports`,
      );
    }
  }
}

/**
 * Starts nats-server, checks Docker and the sandbox images, starts the scripted
 * model if the harness gets no model endpoint, then the session, executor
 * (which registers with the session service) and harness daemons. On any failure (or abort) it stops what it started, in
 * reverse order, before rethrowing.
 */
export async function startStack(options: UpOptions): Promise<StartedStack> {
  const { paths, progress, signal, env } = options;
  await assertNoRunningStack(paths);
  const natsServer = checkPrerequisites(env, options.console);
  await checkPorts(options.console ? options.ports : { ...options.ports, console: 0 }, env);
  await mkdir(paths.logDir, { recursive: true });
  await mkdir(paths.natsStore, { recursive: true });

  const started: Spawned[] = [];
  let docker: DockerEngine | undefined;
  const listen = (port: number) => `127.0.0.1:${port}`;
  try {
    const natsPort = options.ports.nats || (await freePort());
    const nats = await progress.step(
      `starting nats-server (JetStream) on port ${natsPort}`,
      () => startNats({ binary: natsServer, port: natsPort, storeDir: paths.natsStore, logDir: paths.logDir, signal }),
      (s) => `nats-server ${s.url} (JetStream, store ${paths.natsStore})`,
    );
    started.push(nats);

    if (options.docker) {
      docker = await progress.step(
        "checking the Docker engine",
        () => ensureDockerEngine(env, signal),
        (d) => `Docker engine ${d.version} at ${d.host}${d.startedByUs ? " (started a private dockerd)" : ""}`,
        true,
      );
      const dockerHost = docker.host;
      if (options.images !== "none") {
        await progress.step(
          options.images === "tiny"
            ? "checking the sandbox image"
            : "checking the sandbox images (first build takes a minute)",
          () => ensureSandboxImages({ dockerHost, tinyOnly: options.images === "tiny", env }, signal),
          (messages) => `sandbox images ready${messages.length ? ` (${messages.join("; ")})` : ""}`,
          true,
        );
      }
    }

    const scripted = options.scriptedModel ?? (!env.ANTHROPIC_API_KEY && !env.ANTHROPIC_BASE_URL);
    let modelEnv: Record<string, string> = {};
    if (scripted) {
      const apiKey = randomBytes(24).toString("base64url");
      const model = await progress.step(
        `starting the scripted model${options.scriptedModel ? "" : " (no ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL set)"}`,
        () => startScriptedModel({ apiKey, logDir: paths.logDir, signal }),
        (s) => `scripted model ${s.url} (stands in for Claude; set ANTHROPIC_API_KEY to use Claude)`,
      );
      started.push(model);
      modelEnv = {
        ANTHROPIC_BASE_URL: model.url,
        ANTHROPIC_API_KEY: apiKey,
        REINS_DEFAULT_MODEL: env.REINS_DEFAULT_MODEL || "reins-scripted",
      };
    }

    // The console's origin is known before the services start, so their CORS can allow it.
    const consolePort = options.console ? options.ports.console || (await freePort()) : 0;
    const cors = (name: string): Record<string, string> =>
      options.console ? { [name]: withOrigin(env[name], `http://127.0.0.1:${consolePort}`) } : {};

    // The executor registers itself with the session service, so that starts first.
    // Free ports mean stacks side by side on one engine: the id also scopes the
    // executor's containers, so each stack's must be its own.
    const executorId =
      env.REINS_EXECUTOR_ID || (options.ports.executor === 0 ? `local-${randomBytes(3).toString("hex")}` : "local");
    // With authentication on, the registry admits only registration tokens: the
    // stack makes one for its executor, unless the caller brought their own.
    const sessionAuth = Boolean(env.REINS_SESSION_TOKENS || env.REINS_SESSION_TOKENS_FILE);
    const ownRegistration = Boolean(
      env.REINS_EXECUTOR_REGISTRATION_TOKENS || env.REINS_EXECUTOR_REGISTRATION_TOKENS_FILE,
    );
    const registration = sessionAuth && !ownRegistration ? await writeRegistrationTokens(paths, executorId) : undefined;
    const session = await progress.step(
      "starting the session service",
      () =>
        startDaemonProcess({
          app: "session",
          logDir: paths.logDir,
          signal,
          env: daemonEnv(
            env,
            [
              "REINS_SESSION_",
              "REINS_STREAM_",
              "REINS_MAX_MESSAGE_BYTES",
              "REINS_NATS_",
              "OTEL_",
              // The executor registry it serves.
              "REINS_EXECUTOR_TTL_MS",
              "REINS_EXECUTOR_HEARTBEAT_INTERVAL_MS",
              "REINS_EXECUTOR_REGISTRATION_TOKENS",
            ],
            {
              REINS_SESSION_LISTEN: listen(options.ports.session),
              REINS_NATS_URL: nats.url,
              ...cors("REINS_SESSION_CORS_ORIGINS"),
              ...(registration ? { REINS_EXECUTOR_REGISTRATION_TOKENS_FILE: registration.tokensFile } : {}),
            },
          ),
        }),
      (s) => `session ${s.url}`,
    );
    started.push(session);

    const token = await writeExecutorToken(paths.tokenFile);
    const executor = await progress.step(
      "starting the executor",
      () =>
        startDaemonProcess({
          app: "executor",
          logDir: paths.logDir,
          signal,
          env: daemonEnv(env, ["REINS_EXECUTOR_", "REINS_TOOLS_", "REINS_SANDBOX_", "OTEL_"], {
            REINS_EXECUTOR_LISTEN: listen(options.ports.executor),
            REINS_EXECUTOR_TOKEN_FILE: paths.tokenFile,
            REINS_EXECUTOR_ID: executorId,
            REINS_EXECUTOR_REGISTRY_URL: session.url,
            ...(registration ? { REINS_EXECUTOR_REGISTRATION_TOKEN_FILE: registration.tokenFile } : {}),
            ...(docker ? { DOCKER_HOST: docker.host } : {}),
            // Only the tiny image was ensured: run the catalog's tools in it.
            ...(options.images === "tiny" && !env.REINS_SANDBOX_IMAGE
              ? { REINS_SANDBOX_IMAGE: sandboxImages.tiny }
              : {}),
          }),
        }),
      (s) => `executor ${s.url}`,
    );
    started.push(executor);

    const harness = await progress.step(
      "starting the harness",
      () =>
        startDaemonProcess({
          app: "harness",
          logDir: paths.logDir,
          signal,
          env: daemonEnv(
            env,
            // With the scripted model, a key in the caller's environment stays there.
            [
              "REINS_HARNESS_",
              // Tracing, as for the other two daemons (each names its own service unless OTEL_SERVICE_NAME says one).
              "OTEL_",
              // The same stream prefix as the session service's: wake stream and live text.
              "REINS_STREAM_",
              "REINS_MODEL_",
              "REINS_DEFAULT_MODEL",
              "REINS_SESSION_TOKEN",
              ...(scripted ? [] : ["ANTHROPIC_"]),
            ],
            {
              REINS_HARNESS_LISTEN: listen(options.ports.harness),
              REINS_SESSION_URL: session.url,
              REINS_EXECUTOR_URL: executor.url,
              REINS_EXECUTOR_TOKEN: token,
              REINS_NATS_URL: nats.url,
              ...cors("REINS_HARNESS_CORS_ORIGINS"),
              ...modelEnv,
            },
          ),
        }),
      (s) => `harness ${s.url}`,
    );
    started.push(harness);

    if (options.console) {
      const webConsole = await progress.step(
        "starting the web console",
        () =>
          startDaemonProcess({
            app: "console",
            logDir: paths.logDir,
            signal,
            env: daemonEnv(env, ["REINS_CONSOLE_"], {
              REINS_CONSOLE_LISTEN: listen(consolePort),
              REINS_CONSOLE_SESSION_URL: session.url,
              REINS_CONSOLE_HARNESS_URL: harness.url,
            }),
          }),
        (s) => `web console ${s.url}`,
      );
      started.push(webConsole);
    }
    return { processes: started, docker, tokenFile: paths.tokenFile };
  } catch (err) {
    await stopProcesses(started, progress);
    if (docker?.startedByUs) await stopDockerEngine().catch(() => {});
    throw err;
  }
}

/** A CORS origin list (REINS_*_CORS_ORIGINS) with `origin` in it, the caller's entries kept. */
function withOrigin(list: string | undefined, origin: string): string {
  const entries = (list ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return [...new Set([...entries, origin])].join(",");
}

/** Stops processes in reverse start order, each fully exited before the next. */
export async function stopProcesses(processes: readonly Spawned[], progress: Progress): Promise<void> {
  for (const p of [...processes].reverse()) {
    await progress.step(
      `stopping ${p.name} (pid ${p.pid})`,
      () => p.stop(10_000),
      (how) => `${p.name} ${stopWords[how]}`,
    );
  }
}

/** The state file contents for a started stack. */
export function stateOf(stack: StartedStack, paths: StackPaths, up: StackState["up"]): StackState {
  return {
    version: 1,
    up,
    startedAt: new Date().toISOString(),
    stateDir: paths.dir,
    tokenFile: stack.tokenFile,
    dockerHost: stack.docker?.host ?? "",
    dockerStarted: stack.docker?.startedByUs ?? false,
    services: stack.processes.map((p) => ({
      name: p.name,
      url: p.url,
      ...metricsOf(p.readyLine),
      pid: p.pid,
      log: p.logFile,
      startTime: processStartTime(p.pid),
    })),
  };
}

function metricsOf(readyLine: string): { metricsUrl?: string } {
  const metricsUrl = listeningMetricsUrl(readyLine);
  return metricsUrl === undefined ? {} : { metricsUrl };
}
