import { methods } from "./request-url.js";

/** JSON Schema of the host tools file (YAML), checked with ajv at startup. */
export const hostToolsFileSchema = {
  type: "object",
  additionalProperties: false,
  required: ["tools"],
  properties: {
    tools: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "description", "input_schema", "url", "allowed_origins"],
        properties: {
          // What the Messages API accepts as a tool name.
          name: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" },
          description: { type: "string", minLength: 1 },
          input_schema: { type: "object" },
          method: { enum: [...methods] },
          url: { type: "string", minLength: 1 },
          allowed_origins: { type: "array", minItems: 1, items: { type: "string" } },
          secret: {
            type: "object",
            additionalProperties: false,
            required: ["header"],
            properties: {
              env: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" },
              file: { type: "string", minLength: 1 },
              // An HTTP header name (a token).
              header: { type: "string", pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" },
              prefix: { type: "string" },
              // The one origin the secret is sent to; default: the url's, or the only allowed one.
              origin: { type: "string", minLength: 1 },
            },
            oneOf: [{ required: ["env"] }, { required: ["file"] }],
          },
          timeout_ms: { type: "integer", minimum: 1, maximum: 300_000 },
          max_response_bytes: { type: "integer", minimum: 1, maximum: 16 * 1024 * 1024 },
          idempotent: { type: "boolean" },
          // Tenants whose sessions may use the tool; absent: every tenant's.
          tenants: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", minLength: 1 } },
        },
      },
    },
  },
} as const;

export interface RawHostToolsFile {
  tools: RawHostTool[];
}

export interface RawHostTool {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
  method?: (typeof methods)[number];
  url: string;
  allowed_origins: string[];
  secret?: { env?: string; file?: string; header: string; prefix?: string; origin?: string };
  timeout_ms?: number;
  max_response_bytes?: number;
  idempotent?: boolean;
  tenants?: string[];
}
