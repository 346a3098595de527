/**
 * The API's 422 problems (`error.details.problems`: `{path, message}`), placed on the form's
 * fields: `ram_mb`, `body.ram_mb` (a malformed request) and `options.plan_id` (inside a field)
 * all land on the field they start with; what names no field of the form is listed apart.
 */
import { ApiError } from "../../api/client";

export interface Problem {
  path: string;
  message: string;
}

export interface Placed {
  /** Messages by the form field they name. */
  fields: Map<string, string[]>;
  /** Problems naming no field of the form. */
  rest: Problem[];
}

/** The problems an error carries (none unless it is the API's validation answer). */
export function problemsOf(error: unknown): Problem[] {
  if (!(error instanceof ApiError)) return [];
  const problems = error.details.problems;
  if (!Array.isArray(problems)) return [];
  return problems.filter(
    (p): p is Problem =>
      typeof p === "object" && p !== null && typeof p.path === "string" && typeof p.message === "string",
  );
}

/** Place `error`'s problems on `fields` (the form's field names). */
export function placeProblems(error: unknown, fields: readonly string[]): Placed {
  const placed: Placed = { fields: new Map(), rest: [] };
  for (const problem of problemsOf(error)) {
    const path = problem.path.replace(/^body\./, "");
    const field = path.split(/[.[]/, 1)[0] ?? "";
    if (!fields.includes(field)) {
      placed.rest.push(problem);
      continue;
    }
    const text = path === field ? problem.message : `${path.slice(field.length).replace(/^\./, "")}: ${problem.message}`;
    placed.fields.set(field, [...(placed.fields.get(field) ?? []), text]);
  }
  return placed;
}
