// The reins.session.v1.SessionService handlers over a SessionStore: who may
// call what (roles, tenants), and AppendEventsStream.
export { sessionServicePolicy } from "./access.js";
export { createSessionServiceImpl } from "./service.js";
