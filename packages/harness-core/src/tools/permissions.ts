import { type AgentConfig, PermissionPolicy } from "@reins/proto";

/**
 * How a call of a tool proceeds once the model asks for it:
 * - `run`: at once (an `always_allow` tool, the default);
 * - `ask`: after a client allows it (`always_ask`);
 * - `client`: the client runs it (a custom tool) and sends its result.
 */
export type ToolRoute = "run" | "ask" | "client";

export interface ToolPolicy {
  routeOf(name: string): ToolRoute;
}

/**
 * The routes of a session's tools, from its AgentConfig alone, so every replica
 * (and the fold, on recovery) routes a call the same way. A name the config does
 * not know runs, i.e. reaches the loop's "not offered" answer.
 */
export function toolPolicy(config: AgentConfig | undefined): ToolPolicy {
  const custom = new Set(config?.customTools.map((t) => t.name));
  const permissions = config?.toolPermissions ?? {};
  return {
    routeOf(name) {
      if (custom.has(name)) return "client";
      return permissions[name] === PermissionPolicy.ALWAYS_ASK ? "ask" : "run";
    },
  };
}

/**
 * Why a StartSession's permissions cannot be used ("" when they can): each must
 * name a tool of the session that the harness runs, with a known policy.
 */
export function permissionsProblem(config: AgentConfig): string {
  const harnessRun = new Set(config.toolDefinitions.map((d) => d.name));
  const custom = new Set(config.customTools.map((t) => t.name));
  for (const [name, policy] of Object.entries(config.toolPermissions)) {
    const field = `config.tool_permissions[${JSON.stringify(name)}]`;
    if (!(policy in PermissionPolicy) || policy === PermissionPolicy.UNSPECIFIED) {
      return `${field} is ${policy}: use PERMISSION_POLICY_ALWAYS_ALLOW or PERMISSION_POLICY_ALWAYS_ASK`;
    }
    if (custom.has(name)) return `${field} names a custom tool: its calls always wait for the client's result`;
    if (!harnessRun.has(name)) {
      const known = [...harnessRun].join(", ") || "none";
      return `${field} names a tool the session does not have (its tools: ${known})`;
    }
  }
  return "";
}
