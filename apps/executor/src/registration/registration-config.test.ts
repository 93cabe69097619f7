import { describe, expect, it } from "vitest";
import { loadRegistrationConfig, parseLabels } from "./registration-config.js";

const local = { host: "127.0.0.1" };
const base = { REINS_EXECUTOR_REGISTRY_URL: "http://127.0.0.1:7001", REINS_EXECUTOR_ID: "host-1" };

describe("registration settings", () => {
  it("registers only with a registry URL, and then needs an id", () => {
    expect(loadRegistrationConfig({}, local)).toBeUndefined();
    expect(() => loadRegistrationConfig({ REINS_EXECUTOR_LABELS: "a=b" }, local)).toThrow(
      /REINS_EXECUTOR_LABELS is set but REINS_EXECUTOR_REGISTRY_URL is not/,
    );
    expect(() =>
      loadRegistrationConfig({ REINS_EXECUTOR_REGISTRY_URL: base.REINS_EXECUTOR_REGISTRY_URL }, local),
    ).toThrow(/REINS_EXECUTOR_ID is required/);
    expect(() => loadRegistrationConfig({ ...base, REINS_EXECUTOR_ID: "a.b" }, local)).toThrow(
      /REINS_EXECUTOR_ID="a.b" is invalid/,
    );
    expect(loadRegistrationConfig(base, local)).toMatchObject({
      registryUrl: "http://127.0.0.1:7001",
      id: "host-1",
      token: undefined,
      advertiseUrl: undefined,
      labels: {},
    });
  });

  it("needs an advertised URL when it listens on every address, and refuses one with a path or credentials", () => {
    expect(() => loadRegistrationConfig(base, { host: "0.0.0.0" })).toThrow(/REINS_EXECUTOR_ADVERTISE_URL is required/);
    expect(() => loadRegistrationConfig(base, { host: "::" })).toThrow(/REINS_EXECUTOR_ADVERTISE_URL is required/);
    expect(
      loadRegistrationConfig({ ...base, REINS_EXECUTOR_ADVERTISE_URL: "https://10.0.0.7:7003" }, { host: "0.0.0.0" })
        ?.advertiseUrl,
    ).toBe("https://10.0.0.7:7003");
    expect(() => loadRegistrationConfig({ ...base, REINS_EXECUTOR_ADVERTISE_URL: "10.0.0.7:7003" }, local)).toThrow(
      /not an http\(s\) URL|is not a URL/,
    );
    expect(() =>
      loadRegistrationConfig({ ...base, REINS_EXECUTOR_ADVERTISE_URL: "http://u:p@10.0.0.7:7003" }, local),
    ).toThrow(/must not carry credentials/);
    expect(() => loadRegistrationConfig({ ...base, REINS_EXECUTOR_ADVERTISE_URL: "http://h:1/x?y" }, local)).toThrow(
      /without a path, query or fragment/,
    );
    expect(() => loadRegistrationConfig({ ...base, REINS_EXECUTOR_REGISTRATION_TOKEN: "short" }, local)).toThrow(
      /REINS_EXECUTOR_REGISTRATION_TOKEN needs at least/,
    );
  });

  it("parses labels as k=v,k=v with the registry's rules", () => {
    expect(parseLabels(" region=eu , gpu=true,empty=")).toEqual({ region: "eu", gpu: "true", empty: "" });
    expect(parseLabels("")).toEqual({});
    expect(() => parseLabels("region")).toThrow(/"region" is not key=value/);
    expect(() => parseLabels("-x=1")).toThrow(/key "-x" is invalid/);
    expect(() => parseLabels("a=1,a=2")).toThrow(/key "a" is given twice/);
    expect(() => parseLabels(`a=${"v".repeat(257)}`)).toThrow(/at most 256 characters/);
    expect(() => parseLabels(Array.from({ length: 65 }, (_, i) => `k${i}=v`).join(","))).toThrow(
      /65 labels, over the maximum of 64/,
    );
  });
});
