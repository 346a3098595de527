/** Import of a plugin document from a URL, through the API (which fetches only allowed hosts). */
import { api, unwrap } from "../../api/client";
import type { JsonObject } from "./document";

export async function importFromUrl(url: string): Promise<JsonObject> {
  const answer = await unwrap(api.POST("/api/v1/plugins/import", { body: { url } }));
  return answer.document as JsonObject;
}
