/** The builder's server state: the format's schema, versions, validation, saving, test runs. */
import { useQuery } from "@tanstack/react-query";
import { ApiError, api, type Schemas, unwrap } from "../../api/client";
import type { JsonObject } from "./document";
import type { JsonSchema } from "./formatSchema";
import type { Problem } from "./problems";

export function useFormatSchema() {
  return useQuery({
    queryKey: ["plugins", "schema"],
    staleTime: Infinity,
    queryFn: async () => (await unwrap(api.GET("/api/v1/plugins/schema"))) as unknown as JsonSchema,
  });
}

export function useVersions(slug: string | undefined) {
  return useQuery({
    queryKey: ["plugins", slug, "versions"],
    enabled: slug !== undefined,
    queryFn: () => unwrap(api.GET("/api/v1/plugins/{slug}/versions", { params: { path: { slug: slug ?? "" } } })),
  });
}

export async function fetchVersion(slug: string, version: number): Promise<Schemas["VersionDocumentOut"]> {
  return unwrap(api.GET("/api/v1/plugins/{slug}/versions/{version}", { params: { path: { slug, version } } }));
}

export interface Validation {
  problems: Problem[];
  warnings: Problem[];
  /** An answer that is not a validation (the API is down, 413, ...). */
  failure: string | null;
}

/** The problems an ApiError names (`details.problems`), or null when it is no validation answer. */
export function problemsOf(error: unknown): Problem[] | null {
  if (!(error instanceof ApiError) || error.status !== 422) return null;
  const problems = error.details.problems;
  if (!Array.isArray(problems)) return [{ path: "", message: error.message }];
  return problems.map((p) => ({ path: String((p as Problem).path ?? ""), message: String((p as Problem).message ?? "") }));
}

/** Validate a draft: `POST /api/v1/plugins/validate`. */
export async function validateDocument(document: JsonObject): Promise<Validation> {
  try {
    const answer = await unwrap(api.POST("/api/v1/plugins/validate", { body: document as never }));
    return { problems: [], warnings: answer.warnings, failure: null };
  } catch (error) {
    const problems = problemsOf(error);
    if (problems) return { problems, warnings: [], failure: null };
    return { problems: [], warnings: [], failure: error instanceof Error ? error.message : String(error) };
  }
}

/** Save a document as the next version of its slug: `POST /api/v1/plugins`. */
export async function saveDocument(document: JsonObject): Promise<Schemas["RegisteredOut"]> {
  return unwrap(api.POST("/api/v1/plugins", { body: document as never }));
}

export function useConnections() {
  return useQuery({
    queryKey: ["connections"],
    queryFn: () => unwrap(api.GET("/api/v1/connections")),
  });
}

export type TestRun = Schemas["TestRunOut"];
export type TestRunIn = Schemas["TestRunIn"];

export async function startTestRun(body: TestRunIn): Promise<TestRun> {
  return unwrap(api.POST("/api/v1/plugins/test-runs", { body }));
}

export async function resumeTestRun(token: string): Promise<TestRun> {
  return unwrap(api.POST("/api/v1/plugins/test-runs/resume", { body: { token } }));
}

export async function pastRunInputs(runId: number): Promise<unknown> {
  return unwrap(api.GET("/api/v1/runs/{run_id}/flow-context", { params: { path: { run_id: runId } } }));
}
