/**
 * Live updates: the API's server-sent events (`GET /api/v1/events`) invalidate the queries they
 * concern, so every screen shows the server's state without a refresh (and without polling).
 *
 * `event: order|run|service|delivery` carries JSON naming what changed (a lifecycle action's
 * progress and result arrive as `run` events of its order: the services are refetched too); `event: reset` means
 * the stream missed changes: everything is fetched again. The browser's EventSource reconnects
 * by itself and resumes with `Last-Event-ID`.
 */
import type { QueryClient } from "@tanstack/react-query";

type Data = { order_id?: number; run_id?: number; invoice_id?: number };

/** The query keys a change of `kind` with `data` makes stale (prefixes). */
export function staleKeys(kind: string, data: Data): (readonly unknown[])[] {
  switch (kind) {
    case "order":
    case "run":
    case "service":
      return [["orders"], ["runs"], ["services"], ["dashboard"]];
    case "delivery":
      return [["deliveries"], ["invoices"], ["dashboard"], ...(data.invoice_id ? [["orders"]] : [])];
    default:
      return [[]];
  }
}

const KINDS = ["order", "run", "service", "delivery", "reset"];

/** Follow the event stream until the returned function is called. */
export function followEvents(client: QueryClient, url = "/api/v1/events"): () => void {
  const source = new EventSource(url, { withCredentials: true });
  const listener = (event: MessageEvent<string>) => {
    let data: Data = {};
    try {
      data = JSON.parse(event.data) as Data;
    } catch {
      // A message we cannot read still says something changed.
    }
    for (const key of staleKeys(event.type, data)) {
      void client.invalidateQueries({ queryKey: key });
    }
  };
  for (const kind of KINDS) source.addEventListener(kind, listener);
  return () => source.close();
}
