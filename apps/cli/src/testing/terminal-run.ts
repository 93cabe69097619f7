import { stripVTControlCharacters } from "node:util";
import { execa } from "execa";

/** A command on a pseudo-terminal, answered prompt by prompt. */
export interface TerminalRun {
  /** Waits for the next y/N prompt, which must read `? run <call> [y/N] `, and types `key` and Enter. */
  answer(call: string, key: "y" | "n"): Promise<void>;
  /** Waits for the command to end: its exit code and the screen's text. */
  exit(): Promise<{ exitCode: number | undefined; output: string }>;
  /** Kills the command if it still runs (for `finally`). */
  kill(): void;
}

/**
 * Runs `argv` on a real pseudo-terminal: util-linux `script` gives it a pty for
 * stdin, stdout and stderr and types there what is written to its own stdin.
 * The pty reports 0 columns (script's stdin is a pipe), as some consoles do.
 */
export function runOnTerminal(argv: readonly string[], env: Record<string, string | undefined>): TerminalRun {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const child = execa("script", ["-qfec", argv.map(quote).join(" "), "/dev/null"], {
    reject: false,
    extendEnv: false,
    env: { ...env, TERM: "xterm" },
    stdin: "pipe",
    buffer: false,
  });
  let raw = "";
  // The screen's text: no escapes (spinners, cursor moves), \n line ends.
  const text = () => stripVTControlCharacters(raw).replaceAll("\r\n", "\n");
  let check = () => {};
  child.stdout.on("data", (chunk) => {
    raw += String(chunk);
    check();
  });
  let from = 0;
  return {
    answer: (call, key) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no prompt for ${call}:\n${text()}`)), 30_000);
        check = () => {
          const screen = text();
          const at = screen.indexOf("[y/N] ", from);
          if (at < 0) return;
          check = () => {};
          clearTimeout(timer);
          from = at + 1;
          const prompt = screen.slice(screen.lastIndexOf("\n", at) + 1, at);
          child.stdin.write(`${key}\r`);
          if (prompt === `? run ${call} `) resolve();
          else reject(new Error(`the prompt was ${JSON.stringify(prompt)}`));
        };
        check();
      }),
    async exit() {
      const done = await child;
      child.stdin.end();
      return { exitCode: done.exitCode, output: text() };
    },
    kill: () => {
      child.kill("SIGKILL");
    },
  };
}
