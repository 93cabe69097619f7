import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadRegistrationTokens, parseRegistrationTokens } from "./registration-tokens.js";
import { loadSecret, loadTokenGrants, parseTokenGrants } from "./token-grants.js";

const secret = "tok-SECRET-0123456789abcdef";

// Every refusal must name where the problem is and never echo a token.
function refusal(text: string): string {
  try {
    parseTokenGrants(text, "REINS_X_TOKENS");
  } catch (err) {
    const message = (err as Error).message;
    expect(message).not.toContain(secret);
    expect(message).toMatch(/^REINS_X_TOKENS/);
    return message;
  }
  throw new Error("expected a refusal");
}

describe("loadTokenGrants", () => {
  it("is undefined (authentication off) when neither variable is set", () => {
    expect(loadTokenGrants({}, "REINS_X")).toBeUndefined();
  });

  it("reads YAML from a file and JSON inline", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "reins-grants-"));
    try {
      const file = path.join(dir, "tokens.yaml");
      await writeFile(file, `- token: ${secret}\n  role: client\n  tenant: acme\n`);
      expect(loadTokenGrants({ REINS_X_TOKENS_FILE: file }, "REINS_X")).toEqual([
        { token: secret, role: "client", tenant: "acme" },
      ]);
      expect(
        loadTokenGrants({ REINS_X_TOKENS: JSON.stringify([{ token: secret, role: "operator" }]) }, "REINS_X"),
      ).toEqual([{ token: secret, role: "operator", tenant: "" }]);
      expect(() => loadTokenGrants({ REINS_X_TOKENS_FILE: file, REINS_X_TOKENS: "[]" }, "REINS_X")).toThrow(/both set/);
      expect(() => loadTokenGrants({ REINS_X_TOKENS_FILE: path.join(dir, "none") }, "REINS_X")).toThrow(
        /^REINS_X_TOKENS_FILE=.* cannot be read/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses bad documents without printing a token", () => {
    expect(refusal("[]")).toMatch(/non-empty list/);
    expect(refusal(`token: ${secret}`)).toMatch(/list/);
    expect(refusal(`- [${secret}`)).toMatch(/not valid YAML/);
    expect(refusal(`- {token: short1, role: client}`)).toMatch(/entry 0 needs a token of at least 16/);
    expect(refusal(`- {token: ${secret}, role: admin}`)).toMatch(/entry 0 needs a role: one of client, harness/);
    expect(refusal(`- {token: ${secret}}`)).toMatch(/needs a role/);
    expect(refusal(`- {token: ${secret}, role: client}\n- {token: ${secret}, role: operator}`)).toMatch(
      /entry 1: the same token is listed twice/,
    );
    expect(refusal(`- {token: ${secret}, role: client, tenant: 7}`)).toMatch(/tenant must be a string/);
    expect(refusal(`- {token: ${secret}, role: client, tennant: a}`)).toMatch(/unknown field "tennant"/);
    expect(refusal(`- {token: "${secret} x", role: client}`)).toMatch(/whitespace/);
  });
});

describe("loadSecret", () => {
  it("reads the variable or the file it names, trimmed", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "reins-secret-"));
    try {
      const file = path.join(dir, "token");
      await writeFile(file, `${secret}\n`);
      expect(loadSecret({ T: "direct" }, "T")).toBe("direct");
      expect(loadSecret({ T_FILE: file }, "T")).toBe(secret);
      expect(loadSecret({}, "T")).toBeUndefined();
      await writeFile(file, "\n");
      expect(() => loadSecret({ T_FILE: file }, "T")).toThrow(/T_FILE=.* is empty/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("loadRegistrationTokens", () => {
  const refusal = (text: string) => {
    try {
      parseRegistrationTokens(text, "REINS_R_TOKENS");
    } catch (err) {
      const message = (err as Error).message;
      expect(message).not.toContain(secret);
      return message;
    }
    throw new Error("expected a refusal");
  };

  it("binds each token to one executor id, as a grant of role executor", () => {
    expect(loadRegistrationTokens({}, "REINS_R")).toBeUndefined();
    expect(loadRegistrationTokens({ REINS_R_TOKENS: `- {executor: exec-1, token: ${secret}}` }, "REINS_R")).toEqual([
      { token: secret, role: "executor", tenant: "", executorId: "exec-1" },
    ]);
    expect(refusal(`- {executor: a.b, token: ${secret}}`)).toMatch(/entry 0 needs an executor id/);
    expect(refusal(`- {token: ${secret}}`)).toMatch(/entry 0 needs an executor id/);
    expect(refusal(`- {executor: a, token: short}`)).toMatch(/at least 16/);
    expect(refusal(`- {executor: a, token: ${secret}}\n- {executor: b, token: ${secret}}`)).toMatch(
      /entry 1: the same token is listed twice/,
    );
    expect(refusal(`- {executor: a, token: ${secret}}\n- {executor: a, token: ${secret}x}`)).toMatch(
      /entry 1: executor "a" is listed twice/,
    );
    expect(refusal(`- {executor: a, token: ${secret}, role: operator}`)).toMatch(/unknown field "role"/);
  });
});
