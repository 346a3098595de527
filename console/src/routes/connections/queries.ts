/** Connections' server state: list, one, the types, create, change, delete, test. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas, unwrap } from "../../api/client";

export function useConnections() {
  return useQuery({
    queryKey: ["connections"],
    queryFn: () => unwrap(api.GET("/api/v1/connections")),
  });
}

export function useConnection(name: string | undefined) {
  return useQuery({
    queryKey: ["connections", name],
    enabled: name !== undefined,
    queryFn: () =>
      unwrap(api.GET("/api/v1/connections/{name}", { params: { path: { name: name ?? "" } } })),
  });
}

export function useConnectionTypes() {
  return useQuery({
    queryKey: ["connection-types"],
    staleTime: Number.POSITIVE_INFINITY,
    queryFn: () => unwrap(api.GET("/api/v1/connection-types")),
  });
}

export function useSaveConnection(existing: string | undefined) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["ConnectionIn"]) =>
      existing === undefined
        ? unwrap(api.POST("/api/v1/connections", { body }))
        : unwrap(
            api.PATCH("/api/v1/connections/{name}", {
              params: { path: { name: existing } },
              body: {
                base_url: body.base_url,
                purpose: body.purpose,
                settings: body.settings ?? {},
                allowed_networks: body.allowed_networks ?? [],
                // Write-only: only what was typed is sent; the others stay as they are.
                ...(body.secrets && Object.keys(body.secrets).length > 0 ? { secrets: body.secrets } : {}),
              },
            }),
          ),
    onSuccess: () => client.invalidateQueries({ queryKey: ["connections"] }),
  });
}

export function useDeleteConnection() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (name: string) =>
      unwrap(api.DELETE("/api/v1/connections/{name}", { params: { path: { name } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["connections"] }),
  });
}

export function useTestConnection() {
  return useMutation({
    mutationFn: (name: string) =>
      unwrap(api.POST("/api/v1/connections/{name}/test", { params: { path: { name } } })),
  });
}
