/** The order screens' server state: reads and the run's retry and cancel. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas, unwrap } from "../../api/client";

export const orderKey = (id: number) => ["orders", id] as const;

const SETTLED = new Set(["active", "failed", "cancelled"]);

export function useOrder(id: number) {
  return useQuery({
    queryKey: orderKey(id),
    queryFn: () => unwrap(api.GET("/api/v1/orders/{order_id}", { params: { path: { order_id: id } } })),
    // Until the API's event stream lands: ask again while the order is on its way.
    refetchInterval: (query) => {
      const order = query.state.data;
      return order && SETTLED.has(order.state) && order.run?.state !== "queued" && order.run?.state !== "running"
        ? false
        : 1000;
    },
  });
}

export function useInvoice(id: number | undefined) {
  return useQuery({
    queryKey: ["invoices", id],
    enabled: id !== undefined,
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/invoices/{invoice_id}", { params: { path: { invoice_id: id ?? 0 } } }),
      ),
  });
}

export function useInvoiceDeliveries(invoiceId: number | undefined) {
  return useQuery({
    queryKey: ["deliveries", { invoice_id: invoiceId }],
    enabled: invoiceId !== undefined,
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/webhook-deliveries", { params: { query: { invoice_id: invoiceId ?? 0 } } }),
      ),
  });
}

export function useRetry(orderId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ runId, fromPhase }: { runId: number; fromPhase?: Schemas["Phase"] }) =>
      unwrap(
        api.POST("/api/v1/runs/{run_id}/retry", {
          params: { path: { run_id: runId } },
          body: fromPhase ? { from_phase: fromPhase } : {},
        }),
      ),
    onSettled: () => client.invalidateQueries({ queryKey: orderKey(orderId) }),
  });
}

export function useCancel(orderId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (runId: number) =>
      unwrap(api.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: runId } } })),
    onSettled: () => client.invalidateQueries({ queryKey: orderKey(orderId) }),
  });
}
