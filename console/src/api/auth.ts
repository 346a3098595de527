/**
 * The operator's session: log in, log out, who am I (`/api/v1/auth/*`), through the typed client.
 *
 * Login answers `{user, csrf_token}` and sets the HttpOnly session cookie and the readable CSRF
 * cookie (which the client sends back as `X-CSRF-Token`); `me` answers the user or 401.
 */
import { api, type Schemas, toApiError, unwrap } from "./client";

export type User = Schemas["MeOut"];
export type Role = "viewer" | "operator" | "admin";

const RANK: Record<string, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `user`'s role includes `role` (the API decides; this only hides what it would refuse). */
export function may(user: User | null | undefined, role: Role): boolean {
  return !!user && (RANK[user.role] ?? -1) >= (RANK[role] ?? 0);
}

/** Log in; the session and CSRF cookies are set by the answer. */
export async function login(username: string, password: string): Promise<User> {
  const answer = await unwrap(api.POST("/api/v1/auth/login", { body: { username, password } }));
  return answer.user;
}

/** End the session (cookies cleared by the answer); an ended session is no error. */
export async function logout(): Promise<void> {
  const { response, error } = await api.POST("/api/v1/auth/logout");
  if (!response.ok && response.status !== 401) throw toApiError(response.status, error);
}

/** The signed-in user, or null when there is no session. */
export async function me(): Promise<User | null> {
  const answer = await api.GET("/api/v1/auth/me");
  if (answer.response.status === 401) return null;
  return unwrap(Promise.resolve(answer));
}
