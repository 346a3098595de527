/** The order screens' server state: reads and the run's retry and cancel. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas, unwrap } from "../../api/client";

export const orderKey = (id: number) => ["orders", id] as const;

export function useOrder(id: number) {
  return useQuery({
    queryKey: orderKey(id),
    queryFn: () => unwrap(api.GET("/api/v1/orders/{order_id}", { params: { path: { order_id: id } } })),
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

type Action = "retry" | "cancel" | "reallocate";

/** Act on the order's provisioning run: retry (from a phase), cancel, re-allocate. */
export function useOrderAction(orderId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ action, fromPhase }: { action: Action; fromPhase?: Schemas["Phase"] | undefined }) => {
      const params = { path: { order_id: orderId } };
      if (action === "retry") {
        return unwrap(
          api.POST("/api/v1/orders/{order_id}/retry", { params, body: fromPhase ? { from_phase: fromPhase } : {} }),
        );
      }
      if (action === "cancel") return unwrap(api.POST("/api/v1/orders/{order_id}/cancel", { params }));
      return unwrap(api.POST("/api/v1/orders/{order_id}/reallocate", { params }));
    },
    onSettled: () => client.invalidateQueries({ queryKey: orderKey(orderId) }),
  });
}
