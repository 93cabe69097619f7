/**
 * The Python programs the scripted model writes, chosen by keywords of the
 * task. Deterministic, standard library only, and quick, so the demo shows real
 * code running in a real sandbox without a model key.
 */
export interface Program {
  /** What the model says it will do. */
  readonly intent: string;
  readonly source: string;
}

const countIn = (task: string, fallback: number) => {
  const n = Number(/\b(\d{1,4})\b/.exec(task)?.[1] ?? fallback);
  return Math.min(Math.max(n, 1), 1000);
};

export function programFor(task: string): Program {
  if (/prime/i.test(task)) {
    const n = countIn(task, 10);
    return {
      intent: `a script that prints the first ${n} primes`,
      source: [
        `def first_primes(n):`,
        `    primes = []`,
        `    candidate = 2`,
        `    while len(primes) < n:`,
        `        if all(candidate % p for p in primes if p * p <= candidate):`,
        `            primes.append(candidate)`,
        `        candidate += 1`,
        `    return primes`,
        ``,
        `print(*first_primes(${n}))`,
        ``,
      ].join("\n"),
    };
  }
  if (/fibonacci/i.test(task)) {
    const n = countIn(task, 10);
    return {
      intent: `a script that prints the first ${n} Fibonacci numbers`,
      source: [
        `a, b = 0, 1`,
        `numbers = []`,
        `for _ in range(${n}):`,
        `    numbers.append(a)`,
        `    a, b = b, a + b`,
        `print(*numbers)`,
        ``,
      ].join("\n"),
    };
  }
  return {
    intent: "a script that describes the sandbox it runs in",
    source: [
      `import getpass, os, platform`,
      ``,
      `print("task:", ${JSON.stringify(task)})`,
      `print("python", platform.python_version(), "on", platform.system(), platform.machine())`,
      `print("user", getpass.getuser(), "in", os.getcwd())`,
      `print("files:", sorted(os.listdir(".")))`,
      ``,
    ].join("\n"),
  };
}
