/** One operator account (`/users/:userId`, admins): change the role, disable or enable, reset
 * the password (shown once), and the user's API tokens. Each change ends the user's sessions,
 * so each asks first; a refusal (the last admin) is the API's message. */
import { Anchor, Card, Group, NativeSelect, Stack, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { ConfirmButton } from "../../components/ConfirmButton";
import { FieldRow } from "../../components/FieldRow";
import { ShownOnce } from "../../components/ShownOnce";
import { Empty, ErrorAlert, QueryView } from "../../components/States";
import { formatTime } from "../../components/time";
import { ROLES, type Role, type UserRow, useResetPassword, useUpdateUser, useUserRow } from "./queries";
import { TokensPanel } from "./TokensPanel";
import { StateBadge } from "./UsersPage";

export function UserPage() {
  const userId = Number(useParams().userId);
  if (!Number.isInteger(userId) || userId < 1) return <Empty>No such user.</Empty>;
  return <UserView userId={userId} />;
}

function UserView({ userId }: { userId: number }) {
  const query = useUserRow(userId);
  return (
    <QueryView query={query} label="Loading the user">
      {(user) => (
        <Stack maw={960}>
          <Group justify="space-between">
            <Title order={2}>User {user.username}</Title>
            <Anchor component={Link} to="/users" size="sm">
              All users
            </Anchor>
          </Group>
          <Account user={user} />
          <TokensPanel owner={{ own: false, userId }} whose={user.username} />
        </Stack>
      )}
    </QueryView>
  );
}

function Account({ user }: { user: UserRow }) {
  const update = useUpdateUser(user.id);
  const reset = useResetPassword(user.id);
  const [role, setRole] = useState<Role>(user.role);
  const ends = `${user.username}'s sessions end: they sign in again.`;
  return (
    <Card withBorder component="section" aria-label="Account">
      <Stack>
        <Table withRowBorders={false} w="auto">
          <Table.Tbody>
            <FieldRow name="Role">{user.role}</FieldRow>
            <FieldRow name="State">
              <StateBadge disabled={user.disabled} />
            </FieldRow>
            <FieldRow name="Last login">{user.last_login_at ? formatTime(user.last_login_at) : "never"}</FieldRow>
            <FieldRow name="Password set">{formatTime(user.password_changed_at)}</FieldRow>
            <FieldRow name="Created">{formatTime(user.created_at)}</FieldRow>
          </Table.Tbody>
        </Table>
        {update.isError && <ErrorAlert error={update.error} title="Not changed" />}
        {reset.isError && <ErrorAlert error={reset.error} title="Not reset" />}
        {reset.data && (
          <ShownOnce
            label={`New password of ${reset.data.user.username}`}
            value={reset.data.password}
            note="Give it to them by a safe way."
            onDone={() => reset.reset()}
          />
        )}
        <Group align="flex-end" gap="xs">
          <NativeSelect
            label="New role"
            data={ROLES}
            value={role}
            onChange={(e) => setRole(e.currentTarget.value as Role)}
            w={160}
          />
          <ConfirmButton
            variant="outline"
            color="blue"
            label="Change role"
            disabled={role === user.role}
            question={`Make ${user.username} ${role === "admin" ? "an" : "a"} ${role}? ${ends}`}
            onConfirm={() => update.mutate({ role })}
          />
        </Group>
        <Group gap="xs">
          {user.disabled ? (
            <ConfirmButton
              key="enable"
              variant="outline"
              color="green"
              label="Enable"
              question={`Enable ${user.username}? They can sign in again, and their tokens work again.`}
              onConfirm={() => update.mutate({ disabled: false })}
            />
          ) : (
            <ConfirmButton
              key="disable"
              variant="outline"
              color="red"
              label="Disable"
              question={`Disable ${user.username}? ${ends} They cannot sign in, and their API tokens stop working.`}
              onConfirm={() => update.mutate({ disabled: true })}
            />
          )}
          <ConfirmButton
            variant="outline"
            color="orange"
            label="Reset password"
            question={`Give ${user.username} a new generated password? It is shown here once; the old one stops working and ${ends}`}
            onConfirm={() => reset.mutate()}
          />
        </Group>
        <Text size="xs" c="dimmed">
          The API keeps at least one enabled admin: it refuses to demote or disable the last one.
        </Text>
      </Stack>
    </Card>
  );
}
