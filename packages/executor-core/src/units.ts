const byteUnits: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** "256m", "64 MiB", "1g" or a number of bytes. Units are binary, as Docker's are. */
export function parseBytes(value: string | number): number {
  if (typeof value === "number") return value;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const factor = match ? byteUnits[match[2]?.toLowerCase() ?? ""] : undefined;
  if (!match || factor === undefined) {
    throw new Error(`"${value}" is not a size: use bytes or a number with k, m, g (e.g. 256m, 64MiB)`);
  }
  return Math.round(Number(match[1]) * factor);
}

const durationUnits: Record<string, number> = { "": 1000, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "30s", "500ms", "2m" or a number of seconds; returns milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") return Math.round(value * 1000);
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*$/i.exec(value);
  const factor = match ? durationUnits[match[2]?.toLowerCase() ?? ""] : undefined;
  if (!match || factor === undefined) {
    throw new Error(`"${value}" is not a duration: use seconds or a number with ms, s, m, h (e.g. 30s)`);
  }
  return Math.round(Number(match[1]) * factor);
}

/** 67108864 -> "64 MiB", 1500 -> "1500 B": for messages the model reads. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (bytes >= size) {
      const n = bytes / size;
      return `${n.toFixed(1).replace(/\.0$/, "")} ${unit}`;
    }
  }
  return `${bytes} B`;
}

/** 30000 -> "30 s", 1500 -> "1.5 s". */
export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${s.toFixed(1).replace(/\.0$/, "")} s`;
}
