/** The frame around every screen: navigation, the signed-in user (a link to their account) with
 * their role, log out. */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { Anchor, AppShell, Badge, Button, Group, NavLink, Title } from "@mantine/core";
import { Link, NavLink as RouterLink, Outlet, useLocation, useNavigate } from "react-router";
import { may, type Role, type User } from "../api/auth";
import { followEvents } from "../api/events";
import { useLogout, useUser } from "../session/session";

export interface NavItem {
  to: string;
  label: string;
  /** Shown only to this role and above (the API refuses the others anyway). */
  role?: Role;
}

export const NAVIGATION: NavItem[] = [
  { to: "/dashboard", label: "Dashboard" },
  { to: "/orders", label: "Orders" },
  { to: "/services", label: "Services" },
  { to: "/runs", label: "Runs" },
  { to: "/deliveries", label: "Webhook deliveries" },
  { to: "/catalogue", label: "Catalogue" },
  { to: "/connections", label: "Connections" },
  { to: "/plugins", label: "Plugins" },
  { to: "/plugins/new/edit", label: "Plugin builder" },
  { to: "/users", label: "Users and tokens", role: "admin" },
  { to: "/audit", label: "Audit log" },
];

/** The navigation entry a path belongs to: the longest one it is under (the builder is under
 * Plugins, but only the builder is lit on its page). */
export function activeItem(pathname: string): string | undefined {
  const under = NAVIGATION.filter((i) => pathname === i.to || pathname.startsWith(`${i.to}/`));
  return under.sort((a, b) => b.to.length - a.to.length)[0]?.to;
}

/** The navigation entries `user` may use. */
export function visibleItems(user: User | null): NavItem[] {
  return NAVIGATION.filter((item) => !item.role || may(user, item.role));
}

export function Shell() {
  const client = useQueryClient();
  // Server state stays current by the API's event stream while someone is signed in.
  useEffect(() => followEvents(client), [client]);
  const user = useUser();
  const logout = useLogout();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: "sm" }} padding="lg">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Title order={1} size="h4">
            FluxBilling
          </Title>
          <Group gap="sm">
            <Anchor component={Link} to="/account" size="sm" aria-label={`Your account: ${user?.username ?? ""}`}>
              {user?.username}
            </Anchor>
            <Badge variant="outline" aria-label="Role">
              {user?.role}
            </Badge>
            <Button
              variant="subtle"
              size="xs"
              loading={logout.isPending}
              onClick={() => logout.mutate(undefined, { onSettled: () => navigate("/login") })}
            >
              Log out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        {visibleItems(user).map((item) => (
          <NavLink
            key={item.to}
            component={RouterLink}
            to={item.to}
            label={item.label}
            active={activeItem(pathname) === item.to}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
