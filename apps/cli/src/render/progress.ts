import ora, { type Ora } from "ora";
import { spinnerAllowed, type Terminal } from "../terminal.js";

/**
 * Step-by-step progress on stderr: an ora spinner per step on a terminal, one
 * "✔ ..."/"✖ ..." line per finished step otherwise (logs and CI stay readable).
 */
export interface Progress {
  /** `announce`: also print the step when it starts without a spinner (slow steps). */
  step<T>(text: string, run: () => Promise<T>, done: (result: T) => string, announce?: boolean): Promise<T>;
  warn(text: string): void;
}

export function createProgress(terminal: Terminal): Progress {
  const c = terminal.errColors;
  const spinning = spinnerAllowed(terminal.err);
  const line = (symbol: string, text: string) => terminal.note(`${symbol} ${text}`);
  return {
    async step(text, run, done, announce = false) {
      let spinner: Ora | undefined;
      if (spinning) {
        spinner = ora({ text, stream: terminal.err, discardStdin: false, color: "cyan" }).start();
      } else if (announce) {
        line(c.dim("…"), `${text}…`);
      }
      try {
        const result = await run();
        const message = done(result);
        if (spinner) spinner.succeed(message);
        else line(c.green("✔"), message);
        return result;
      } catch (err) {
        if (spinner) spinner.fail(text);
        else line(c.red("✖"), text);
        throw err;
      }
    },
    warn(text) {
      line(c.yellow("!"), text);
    },
  };
}
