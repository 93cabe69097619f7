/** JSON Schema of the tool catalog file (YAML), checked with ajv at startup. */

const size = {
  anyOf: [
    { type: "integer", minimum: 1 },
    { type: "string", pattern: "^\\s*\\d+(\\.\\d+)?\\s*[A-Za-z]*\\s*$" },
  ],
};
const duration = {
  anyOf: [
    { type: "number", exclusiveMinimum: 0 },
    { type: "string", pattern: "^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h)?\\s*$" },
  ],
};

// Limits a tool may set and that `defaults` may set for every tool.
const limits = {
  image: { type: "string", minLength: 1 },
  timeout: duration,
  memory: size,
  cpus: { type: "number", exclusiveMinimum: 0, maximum: 64 },
  pids: { type: "integer", minimum: 8, maximum: 65536 },
  max_output_bytes: size,
  max_input_bytes: size,
  tmpfs_size: size,
  network: { type: "string", minLength: 1 },
  // A runtime registered with the engine (`docker info` Runtimes); checked at startup.
  runtime: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" },
  workspace: { enum: ["none", "session"] },
  env: {
    type: "object",
    propertyNames: { pattern: "^[A-Za-z_][A-Za-z0-9_]*$" },
    additionalProperties: { type: ["string", "number", "boolean"] },
  },
} as const;

export const catalogFileSchema = {
  type: "object",
  required: ["tools"],
  additionalProperties: false,
  properties: {
    defaults: { type: "object", additionalProperties: false, properties: limits },
    pool: {
      type: "object",
      additionalProperties: false,
      properties: {
        size: { type: "integer", minimum: 0, maximum: 64 },
        session_idle: duration,
        session_max: { type: "integer", minimum: 0, maximum: 1024 },
      },
    },
    workspaces: {
      type: "object",
      additionalProperties: false,
      properties: { size: size },
    },
    tools: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["name", "description", "input_schema", "command"],
        additionalProperties: false,
        properties: {
          name: { type: "string", pattern: "^[a-zA-Z0-9_-]{1,64}$" },
          description: { type: "string", minLength: 1 },
          input_schema: { type: "object" },
          command: {
            type: "object",
            required: ["argv"],
            additionalProperties: false,
            properties: {
              argv: { type: "array", minItems: 1, items: { type: "string" } },
              stdin: { type: "string" },
            },
          },
          idempotent: { type: "boolean" },
          ...limits,
        },
      },
    },
  },
} as const;
