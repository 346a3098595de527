/** Who is signed in: one query (`["me"]`), a guard for the screens, and log in / log out. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { login, logout, me, type User } from "../api/auth";
import { Loading, ErrorAlert } from "../components/States";

export const ME = ["me"] as const;

export function useMe() {
  return useQuery({ queryKey: ME, queryFn: me, staleTime: 60_000, retry: false });
}

/** The signed-in user (inside `RequireSession`, always there). */
export function useUser(): User | null {
  return useMe().data ?? null;
}

export function useLogin() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ username, password }: { username: string; password: string }) =>
      login(username, password),
    onSuccess: (user) => {
      client.clear();
      client.setQueryData(ME, user);
    },
  });
}

export function useLogout() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: logout,
    onSettled: () => {
      client.clear();
      client.setQueryData(ME, null);
    },
  });
}

/** Its children when someone is signed in, else the login page (back here afterwards). */
export function RequireSession({ children }: { children: ReactNode }) {
  const location = useLocation();
  const query = useMe();
  if (query.isPending) return <Loading label="Checking your session" />;
  if (query.isError) return <ErrorAlert error={query.error} title="Cannot reach the API" />;
  if (!query.data) {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <>{children}</>;
}
