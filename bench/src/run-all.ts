import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

// Runs every bench/src/*.bench.ts, one after another, each in its own process so that one
// benchmark's servers, pools and garbage cannot skew the next one's figures. A benchmark is
// a script that measures its subject and a baseline in the same run and prints both.
//
//   pnpm bench              all of them
//   pnpm bench executor     those whose file name starts with "executor"
//                           ("session" runs session*.bench.ts, not long-session.bench.ts)

const here = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((name) => name.endsWith(".bench.ts"))
  .filter((name) => filters.length === 0 || filters.some((f) => name.startsWith(f)))
  .sort();

if (files.length === 0) {
  console.log(filters.length > 0 ? `no benchmark matches ${filters.join(", ")}` : "no benchmarks yet");
}
let failed = 0;
for (const file of files) {
  console.log(`\n== ${file}`);
  const result = await execa(
    process.execPath,
    ["--conditions=@reins/source", "--import", "tsx", path.join(here, file)],
    {
      stdio: "inherit",
      reject: false,
    },
  );
  if (result.exitCode !== 0) {
    failed++;
    console.log(`== ${file} failed (exit ${result.exitCode ?? result.signal})`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
