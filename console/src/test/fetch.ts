import { vi } from "vitest";

export type Handler = (request: Request) => Response | Promise<Response>;

/** Replace `fetch` with `handler`; what the app asks for is in `calls`. */
export function fakeFetch(handler: Handler): Request[] {
  const calls: Request[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    calls.push(request.clone());
    return handler(request);
  });
  return calls;
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

export function apiError(status: number, code: string, message: string): Response {
  return json({ error: { code, message, details: {} } }, status);
}
