/** JSON Schema of the MCP servers file (YAML), checked with ajv at startup. */
export const mcpServersFileSchema = {
  type: "object",
  additionalProperties: false,
  required: ["servers"],
  properties: {
    servers: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "url"],
        properties: {
          // Tools are offered as mcp__<name>__<tool>: no "__" inside, so two servers never make one name.
          name: { type: "string", pattern: "^[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*$", maxLength: 24 },
          // The streamable HTTP endpoint, e.g. https://mcp.example.com/mcp.
          url: { type: "string", minLength: 1 },
          credential: {
            type: "object",
            additionalProperties: false,
            properties: {
              env: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" },
              file: { type: "string", minLength: 1 },
              // An HTTP header name (a token); default authorization.
              header: { type: "string", pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" },
              // Default "Bearer " for the authorization header, "" for any other.
              prefix: { type: "string" },
            },
            oneOf: [{ required: ["env"] }, { required: ["file"] }],
          },
          // Tenants whose sessions may use the server's tools; absent: every tenant's.
          tenants: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", minLength: 1 } },
          timeout_ms: { type: "integer", minimum: 1, maximum: 300_000 },
          max_result_bytes: { type: "integer", minimum: 1, maximum: 16 * 1024 * 1024 },
          // How long a listing of the server's tools is reused before it is asked again.
          list_ttl_ms: { type: "integer", minimum: 0, maximum: 86_400_000 },
          // Re-run a call cut by a crash when the server marks its tool idempotentHint.
          trust_idempotent_hint: { type: "boolean" },
        },
      },
    },
  },
} as const;

export interface RawMcpServersFile {
  servers: RawMcpServer[];
}

export interface RawMcpServer {
  name: string;
  url: string;
  credential?: { env?: string; file?: string; header?: string; prefix?: string };
  tenants?: string[];
  timeout_ms?: number;
  max_result_bytes?: number;
  list_ttl_ms?: number;
  trust_idempotent_hint?: boolean;
}
