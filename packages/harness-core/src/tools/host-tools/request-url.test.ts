import { describe, expect, it } from "vitest";
import { expandTemplate, fixedOrigin, parseOrigin, refusal, requestParts, templateFields } from "./request-url.js";

const allowed = new Set(["http://127.0.0.1:8080"]);
const check = (template: string, input: Record<string, unknown>) =>
  refusal(new URL(expandTemplate(template, input)), allowed);

describe("URL templates", () => {
  it("percent-encodes {field} and inserts {+field} as given", () => {
    expect(templateFields("http://h/{a}/{+b}?x={c}")).toEqual(["a", "b", "c"]);
    expect(expandTemplate("http://h/items/{id}", { id: "a/../b?c#d" })).toBe("http://h/items/a%2F..%2Fb%3Fc%23d");
    expect(expandTemplate("http://h{+path}", { path: "/a/b?c=1" })).toBe("http://h/a/b?c=1");
    expect(expandTemplate("http://h/{n}/{flag}/{missing}", { n: 3, flag: true })).toBe("http://h/3/true/");
  });

  it("a percent-encoded field cannot leave the template's origin", () => {
    for (const evil of ["@evil.test", "//evil.test/x", "\\\\evil.test", "../../../", "http://evil.test/"]) {
      expect(check("http://127.0.0.1:8080/items/{id}", { id: evil })).toBeUndefined();
    }
  });

  it("a raw field that changes the origin is refused after expansion", () => {
    expect(check("http://127.0.0.1:8080{+path}", { path: "/data" })).toBeUndefined();
    expect(check("http://127.0.0.1:8080{+path}", { path: "@evil.test/x" })).toMatch(/not allowed/);
    expect(check("{+url}", { url: "http://127.0.0.1:9999/x" })).toMatch(
      /origin http:\/\/127\.0\.0\.1:9999 is not allowed/,
    );
    expect(check("{+url}", { url: "https://127.0.0.1:8080/x" })).toMatch(/not allowed/);
    expect(check("{+url}", { url: "file:///etc/passwd" })).toMatch(/file: URLs are not allowed/);
    expect(check("{+url}", { url: "http://user:pw@127.0.0.1:8080/" })).toMatch(/credentials/);
  });

  it("knows when a template's origin cannot change", () => {
    expect(fixedOrigin("http://127.0.0.1:8080/items/{id}")).toBe("http://127.0.0.1:8080");
    expect(fixedOrigin("https://API.example.com:443?q={q}")).toBe("https://api.example.com");
    expect(fixedOrigin("http://127.0.0.1:8080{+path}")).toBeUndefined();
    expect(fixedOrigin("http://127.0.0.1:8080")).toBe("http://127.0.0.1:8080");
    expect(fixedOrigin("{+url}")).toBeUndefined();
    expect(fixedOrigin("http://{host}/x")).toBeUndefined();
  });

  it("sends the fields the template did not take as a query or a JSON body", () => {
    expect(requestParts("GET", "http://h/{id}", { id: 1, q: "x y", tags: ["a", "b"], none: null })).toEqual({
      url: "http://h/1",
      query: [
        ["q", "x y"],
        ["tags", "a"],
        ["tags", "b"],
      ],
      body: undefined,
    });
    expect(requestParts("POST", "http://h/{id}", { id: 1, q: { deep: true } })).toEqual({
      url: "http://h/1",
      query: [],
      body: { q: { deep: true } },
    });
  });
});

describe("allow-list entries", () => {
  it("are origins only", () => {
    expect(parseOrigin("HTTP://127.0.0.1:8080/")).toBe("http://127.0.0.1:8080");
    expect(parseOrigin("https://api.example.com:443")).toBe("https://api.example.com");
    expect(() => parseOrigin("http://h/path")).toThrow(/origin only/);
    expect(() => parseOrigin("ftp://h")).toThrow(/http or https/);
    expect(() => parseOrigin("not a url")).toThrow(/not a URL/);
  });
});
