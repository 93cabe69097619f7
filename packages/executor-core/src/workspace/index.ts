/**
 * Per-session workspaces: a labelled Docker volume per session, on a quota-bound
 * disk image when the catalog sets a size.
 */

export { createWorkspaces } from "./workspace.js";
export { minWorkspaceBytes } from "./workspace-disk.js";
