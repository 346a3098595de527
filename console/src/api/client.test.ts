import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeFetch, apiError, json } from "../test/fetch";
import { ApiError, api, onUnauthorized, readCookie, toApiError, unwrap } from "./client";

afterEach(() => {
  vi.unstubAllGlobals();
  document.cookie = "fluxbilling_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT";
});

describe("readCookie", () => {
  it("finds a cookie among others, decoded", () => {
    expect(readCookie("b", "a=1; b=x%3Dy; c=3")).toBe("x=y");
    expect(readCookie("d", "a=1")).toBeUndefined();
  });
});

describe("the API client", () => {
  it("sends the CSRF cookie's token on mutating calls only", async () => {
    document.cookie = "fluxbilling_csrf=tok123";
    const calls = fakeFetch(() => json({ id: 3, state: "queued" }));
    await unwrap(api.POST("/api/v1/runs/{run_id}/retry", { params: { path: { run_id: 3 } }, body: {} }));
    await unwrap(api.GET("/api/v1/runs", {}));
    expect(calls[0]?.headers.get("X-CSRF-Token")).toBe("tok123");
    expect(calls[1]?.headers.get("X-CSRF-Token")).toBeNull();
  });

  it("turns the API's error shape into an ApiError", async () => {
    fakeFetch(() => apiError(409, "Conflict", "run 3 is not failed"));
    const failure = unwrap(api.POST("/api/v1/runs/{run_id}/retry", { params: { path: { run_id: 3 } } }));
    await expect(failure).rejects.toMatchObject({ status: 409, code: "Conflict", message: "run 3 is not failed" });
  });

  it("sends the operator to log in when the session is gone", async () => {
    const gone = vi.fn();
    onUnauthorized(gone);
    fakeFetch(() => apiError(401, "HTTPError", "not signed in"));
    await expect(unwrap(api.GET("/api/v1/runs", {}))).rejects.toBeInstanceOf(ApiError);
    expect(gone).toHaveBeenCalledOnce();
  });

  it("names the status when an answer is not the API's shape", () => {
    const error = toApiError(502, "<html>bad gateway</html>");
    expect(error.message).toBe("the API answered 502");
    expect(error.details).toEqual({});
  });
});
