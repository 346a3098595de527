/** The service screens' server state: the list, one service, and its lifecycle actions. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas, unwrap } from "../../api/client";

export type Service = Schemas["ServiceDetailOut"];
export type Action = Schemas["ActionOut"];
export type ServiceFilters = Partial<Record<"state" | "product" | "plugin" | "host" | "q", string | undefined>> & {
  cursor?: number | undefined;
};

export const serviceKey = (id: number) => ["services", id] as const;

export function useServices(filters: ServiceFilters) {
  const query = { ...filters, state: filters.state as Schemas["ServiceState"] | undefined };
  return useQuery({
    queryKey: ["services", "list", filters],
    queryFn: () => unwrap(api.GET("/api/v1/services", { params: { query } })),
  });
}

export function useService(id: number) {
  return useQuery({
    queryKey: serviceKey(id),
    enabled: Number.isInteger(id) && id > 0,
    queryFn: () => unwrap(api.GET("/api/v1/services/{service_id}", { params: { path: { service_id: id } } })),
  });
}

export interface ActionRequest {
  verb: string;
  reason?: string | undefined;
  params?: Record<string, unknown> | undefined;
}

/** Queue a lifecycle action of the service; the API decides whether it may run. */
export function useServiceAction(serviceId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ verb, reason, params }: ActionRequest) =>
      unwrap(
        api.POST("/api/v1/services/{service_id}/actions/{verb}", {
          params: { path: { service_id: serviceId, verb } },
          body: { params: params ?? {}, ...(reason ? { reason } : {}) },
        }),
      ),
    onSettled: () => client.invalidateQueries({ queryKey: serviceKey(serviceId) }),
  });
}
