/** Operator accounts' server state: users (admins), and API tokens, a user's or one's own. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas, unwrap } from "../../api/client";

export type UserRow = Schemas["UserOut"];
export type TokenRow = Schemas["TokenOut"];
export type Role = Schemas["UserIn"]["role"];
export const ROLES: Role[] = ["viewer", "operator", "admin"];

/** Whose tokens: one's own (`/auth/tokens`) or a user's (`/users/{id}/tokens`, admins). */
export type TokenOwner = { own: true } | { own: false; userId: number };

const USERS = ["users"] as const;
const tokensKey = (owner: TokenOwner) => ["tokens", owner.own ? "own" : owner.userId] as const;

export function useUsers() {
  return useQuery({ queryKey: USERS, queryFn: () => unwrap(api.GET("/api/v1/users")) });
}

export function useUserRow(userId: number) {
  return useQuery({
    queryKey: [...USERS, userId],
    queryFn: () => unwrap(api.GET("/api/v1/users/{user_id}", { params: { path: { user_id: userId } } })),
  });
}

export function useCreateUser() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["UserIn"]) => unwrap(api.POST("/api/v1/users", { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: USERS }),
  });
}

export function useUpdateUser(userId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["UserPatch"]) =>
      unwrap(api.PATCH("/api/v1/users/{user_id}", { params: { path: { user_id: userId } }, body })),
    onSuccess: () => client.invalidateQueries({ queryKey: USERS }),
  });
}

export function useResetPassword(userId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/users/{user_id}/password", { params: { path: { user_id: userId } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: USERS }),
  });
}

export function useTokens(owner: TokenOwner) {
  return useQuery({
    queryKey: tokensKey(owner),
    queryFn: () =>
      owner.own
        ? unwrap(api.GET("/api/v1/auth/tokens"))
        : unwrap(api.GET("/api/v1/users/{user_id}/tokens", { params: { path: { user_id: owner.userId } } })),
  });
}

export function useCreateToken(owner: TokenOwner) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["TokenIn"]) =>
      owner.own
        ? unwrap(api.POST("/api/v1/auth/tokens", { body }))
        : unwrap(
            api.POST("/api/v1/users/{user_id}/tokens", { params: { path: { user_id: owner.userId } }, body }),
          ),
    onSuccess: () => client.invalidateQueries({ queryKey: tokensKey(owner) }),
  });
}

export function useRevokeToken(owner: TokenOwner) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (tokenId: number) =>
      owner.own
        ? unwrap(api.DELETE("/api/v1/auth/tokens/{token_id}", { params: { path: { token_id: tokenId } } }))
        : unwrap(
            api.DELETE("/api/v1/users/{user_id}/tokens/{token_id}", {
              params: { path: { user_id: owner.userId, token_id: tokenId } },
            }),
          ),
    onSuccess: () => client.invalidateQueries({ queryKey: tokensKey(owner) }),
  });
}

export function useChangePassword() {
  return useMutation({
    mutationFn: (body: Schemas["PasswordIn"]) => unwrap(api.POST("/api/v1/auth/password", { body })),
  });
}
