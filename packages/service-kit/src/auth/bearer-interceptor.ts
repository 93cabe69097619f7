import type { Interceptor } from "@connectrpc/connect";

/**
 * The client side of `createAuthInterceptor`: sends `authorization: Bearer <token>`
 * on every call. Without a token (a server with auth off) it sends no header.
 */
export function createBearerInterceptor(token: string | undefined): Interceptor {
  return (next) => (req) => {
    if (token) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}
