import { parseCatalog } from "@reins/executor-core";
import { describe, expect, it } from "vitest";
import { catalogDigest } from "./catalog-digest.js";

const catalog = (tools: string) => parseCatalog(`defaults:\n  image: reins/sandbox\ntools:\n${tools}`);

const echo = (schema: string, extra = "") => `
  - name: echo
    description: Prints its input.
    input_schema: ${schema}
    command:
      argv: ["echo", "{{text}}"]${extra}
`;
const schemaAb = `{type: object, properties: {text: {type: string}}, required: [text]}`;
const schemaBa = `{required: [text], properties: {text: {type: string}}, type: object}`;

describe("catalog digest", () => {
  it("is the same for the same tools, whatever the key order of their schemas, and ignores limits", () => {
    const digest = catalogDigest(catalog(echo(schemaAb)));
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(catalogDigest(catalog(echo(schemaBa)))).toBe(digest);
    expect(catalogDigest(catalog(echo(schemaAb, "\n    timeout: 5s")))).toBe(digest);
  });

  it("changes with a tool's schema, image or runtime", () => {
    const digest = catalogDigest(catalog(echo(schemaAb)));
    const other = `{type: object, properties: {text: {type: string, maxLength: 10}}, required: [text]}`;
    expect(catalogDigest(catalog(echo(other)))).not.toBe(digest);
    expect(catalogDigest(catalog(echo(schemaAb, "\n    image: reins/sandbox-tiny")))).not.toBe(digest);
    expect(catalogDigest(catalog(echo(schemaAb, "\n    runtime: runsc")))).not.toBe(digest);
  });
});
