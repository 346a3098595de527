/**
 * The API client: typed by the generated `schema.d.ts`, cookie credentials, CSRF on mutations.
 *
 * Every call goes through the public API. A mutating call carries `X-CSRF-Token` from the
 * `fluxbilling_csrf` cookie (the session cookie itself is HttpOnly); a 401 outside `/auth/` means
 * the session is gone and sends the operator to the login page; an error answer becomes an
 * `ApiError` carrying the API's `{error: {code, message, details}}`.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

export const CSRF_COOKIE = "fluxbilling_csrf";
const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The value of cookie `name` in `cookies` (`document.cookie` format). */
export function readCookie(name: string, cookies: string): string | undefined {
  for (const part of cookies.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

/** An error answer of the API, in its one shape. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(status: number, code: string, message: string, details: Record<string, unknown>) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The `ApiError` for an answer's status and body (any body: a proxy may answer HTML). */
export function toApiError(status: number, body: unknown): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } })
    ?.error;
  if (error && typeof error.message === "string") {
    const details =
      error.details && typeof error.details === "object"
        ? (error.details as Record<string, unknown>)
        : {};
    return new ApiError(status, String(error.code ?? "Error"), error.message, details);
  }
  return new ApiError(status, "HTTPError", `the API answered ${status}`, {});
}

let unauthorized: () => void = () => {};

/** What to do when the session is gone (the app sends the operator to the login page). */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

export const session: Middleware = {
  onRequest({ request }) {
    if (MUTATING.has(request.method)) {
      const token = readCookie(CSRF_COOKIE, document.cookie);
      if (token) request.headers.set("X-CSRF-Token", token);
    }
    return request;
  },
  onResponse({ response }) {
    const path = new URL(response.url, window.location.origin).pathname;
    if (response.status === 401 && !path.startsWith("/api/v1/auth/")) unauthorized();
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: window.location.origin,
  credentials: "same-origin",
  // Looked up per call, so tests can replace it.
  fetch: (request) => globalThis.fetch(request),
});
api.use(session);

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The data of an answer, or the `ApiError` it carries. */
export async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw toApiError(response.status, error);
  return data as T;
}
