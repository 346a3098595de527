/**
 * The operator's session: log in, log out, who am I (`/api/v1/auth/*`).
 *
 * Login answers `{user, csrf_token}` and sets the HttpOnly session cookie and the readable CSRF
 * cookie; `me` answers the user or 401.
 */
import { CSRF_COOKIE, readCookie, toApiError } from "./client";

export type Role = "viewer" | "operator" | "admin";

export interface User {
  id: number;
  username: string;
  role: Role;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `user`'s role includes `role` (the API decides; this only hides what it would refuse). */
export function may(user: User | null | undefined, role: Role): boolean {
  return !!user && RANK[user.role] >= RANK[role];
}

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const csrf = readCookie(CSRF_COOKIE, document.cookie);
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  return globalThis.fetch(new URL(path, window.location.origin), {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? null : JSON.stringify(body),
  });
}

async function failed(response: Response): Promise<never> {
  const body: unknown = await response.json().catch(() => undefined);
  throw toApiError(response.status, body);
}

/** Log in; the session and CSRF cookies are set by the answer. */
export async function login(username: string, password: string): Promise<User> {
  const response = await call("POST", "/api/v1/auth/login", { username, password });
  if (!response.ok) return failed(response);
  const body = (await response.json()) as { user: User };
  return body.user;
}

/** End the session (cookies cleared by the answer). */
export async function logout(): Promise<void> {
  const response = await call("POST", "/api/v1/auth/logout");
  if (!response.ok && response.status !== 401) await failed(response);
}

/** The signed-in user, or null when there is no session. */
export async function me(): Promise<User | null> {
  const response = await call("GET", "/api/v1/auth/me");
  if (response.status === 401) return null;
  if (!response.ok) return failed(response);
  return (await response.json()) as User;
}
