/** The frame around every screen: navigation, the signed-in user with their role, log out. */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { AppShell, Badge, Button, Group, NavLink, Text, Title } from "@mantine/core";
import { NavLink as RouterLink, Outlet, useLocation, useNavigate } from "react-router";
import { followEvents } from "../api/events";
import { useLogout, useUser } from "../session/session";

export interface NavItem {
  to: string;
  label: string;
  /** A slot for a screen that comes later. */
  later?: boolean;
}

export const NAVIGATION: NavItem[] = [
  { to: "/dashboard", label: "Dashboard", later: true },
  { to: "/orders", label: "Orders" },
  { to: "/services", label: "Services", later: true },
  { to: "/runs", label: "Runs" },
  { to: "/deliveries", label: "Webhook deliveries" },
  { to: "/catalogue", label: "Catalogue" },
  { to: "/connections", label: "Connections" },
  { to: "/plugins", label: "Plugins" },
  { to: "/plugins/new/edit", label: "Plugin builder" },
  { to: "/users", label: "Users and tokens", later: true },
  { to: "/audit", label: "Audit log", later: true },
];

/** The navigation entry a path belongs to: the longest one it is under (the builder is under
 * Plugins, but only the builder is lit on its page). */
export function activeItem(pathname: string): string | undefined {
  const under = NAVIGATION.filter((i) => pathname === i.to || pathname.startsWith(`${i.to}/`));
  return under.sort((a, b) => b.to.length - a.to.length)[0]?.to;
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
            <Text size="sm" aria-label="Signed in as">
              {user?.username}
            </Text>
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
        {NAVIGATION.map((item) => (
          <NavLink
            key={item.to}
            component={RouterLink}
            to={item.to}
            label={item.label}
            description={item.later ? "next release" : undefined}
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
