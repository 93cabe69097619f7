// Checks daemons over grpc.health.v1 the way a browser would (Connect protocol, JSON over
// HTTP/1.1: no client library), prints one line per service, and exits non-zero unless every
// daemon and every service it serves reports SERVING.
//
//   node scripts/lib/health-check.mjs session=http://127.0.0.1:7001 executor=http://127.0.0.1:7003
const targets = process.argv.slice(2).map((arg) => {
  const eq = arg.indexOf("=");
  return eq > 0 ? { name: arg.slice(0, eq), url: arg.slice(eq + 1) } : { name: arg, url: arg };
});

async function call(url, method, body) {
  const res = await fetch(`${url}/grpc.health.v1.Health/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${json.code ?? res.status}: ${json.message ?? ""}`);
  return json;
}

let healthy = true;
for (const { name, url } of targets) {
  try {
    const { statuses = {} } = await call(url, "List", {});
    const { status = "UNKNOWN" } = await call(url, "Check", { service: "" });
    if (status !== "SERVING") healthy = false;
    console.log(`${name.padEnd(9)} ${url.padEnd(24)} ${status}`);
    for (const [service, entry] of Object.entries(statuses)) {
      if (service === "") continue;
      const s = entry.status ?? "UNKNOWN";
      if (s !== "SERVING") healthy = false;
      console.log(`${"".padEnd(9)} ${"".padEnd(24)} ${s.padEnd(8)} ${service}`);
    }
  } catch (err) {
    healthy = false;
    console.log(`${name.padEnd(9)} ${url.padEnd(24)} UNREACHABLE (${err instanceof Error ? err.message : err})`);
  }
}
process.exit(healthy ? 0 : 1);
