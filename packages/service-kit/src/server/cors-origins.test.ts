import { describe, expect, it } from "vitest";
import { loadCorsOrigins } from "./cors-origins.js";

describe("loadCorsOrigins", () => {
  it("reads a comma-separated list, spaces and empty entries ignored", () => {
    const env = { REINS_X_CORS_ORIGINS: " http://127.0.0.1:7080 , https://console.example,," };
    expect(loadCorsOrigins(env, "REINS_X")).toEqual(["http://127.0.0.1:7080", "https://console.example"]);
  });

  it("is empty when unset, and accepts *", () => {
    expect(loadCorsOrigins({}, "REINS_X")).toEqual([]);
    expect(loadCorsOrigins({ REINS_X_CORS_ORIGINS: "*" }, "REINS_X")).toEqual(["*"]);
  });

  it.each([
    ["console.example", "is not an origin"],
    ["ftp://console.example", "is not an http or https origin"],
    ["https://console.example/", "expected https://console.example"],
    ["https://console.example:443", "expected https://console.example"],
    ["http://127.0.0.1:7080/sessions", "expected http://127.0.0.1:7080"],
  ])("refuses %s, naming the variable and the entry", (entry, problem) => {
    const load = () => loadCorsOrigins({ REINS_X_CORS_ORIGINS: `http://127.0.0.1:7080,${entry}` }, "REINS_X");
    expect(load).toThrow(`REINS_X_CORS_ORIGINS: ${JSON.stringify(entry)}`);
    expect(load).toThrow(problem);
  });
});
