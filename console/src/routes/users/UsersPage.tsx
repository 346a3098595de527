/** Operator accounts (admins): every user with their role, state and last sign-in; a new user
 * (`/users/new`) gets a generated password, shown once. */
import { Anchor, Badge, Button, Card, Group, NativeSelect, Stack, TextInput, Title } from "@mantine/core";
import { type FormEvent, useState } from "react";
import { Link } from "react-router";
import { ListPage } from "../../components/ListPage";
import { ShownOnce } from "../../components/ShownOnce";
import { ErrorAlert } from "../../components/States";
import { formatTime } from "../../components/time";
import { ROLES, type Role, type UserRow, useCreateUser, useUsers } from "./queries";

export const userPath = (id: number) => `/users/${id}`;

/** Whether a user may sign in. */
export function StateBadge({ disabled }: { disabled: boolean }) {
  return (
    <Badge color={disabled ? "gray" : "green"} variant="light">
      {disabled ? "disabled" : "enabled"}
    </Badge>
  );
}

const COLUMNS = [
  {
    header: "Username",
    cell: (u: UserRow) => (
      <Anchor component={Link} to={userPath(u.id)}>
        {u.username}
      </Anchor>
    ),
  },
  { header: "Role", cell: (u: UserRow) => u.role },
  {
    header: "State",
    cell: (u: UserRow) => <StateBadge disabled={u.disabled} />,
  },
  { header: "Last login", cell: (u: UserRow) => (u.last_login_at ? formatTime(u.last_login_at) : "never"), nowrap: true },
  { header: "Created", cell: (u: UserRow) => formatTime(u.created_at), nowrap: true },
];

export function UsersPage() {
  return (
    <ListPage
      title="Users"
      query={useUsers()}
      columns={COLUMNS}
      rowKey={(u) => u.id}
      actions={
        <Button component={Link} to="/users/new" size="xs">
          New user
        </Button>
      }
      empty="No users yet: create one (the installation token can too, with the API or the CLI)."
    />
  );
}

export function NewUserPage() {
  const create = useCreateUser();
  const [username, setUsername] = useState("");
  const [role, setRole] = useState<Role>("operator");

  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ username, role }, { onSuccess: () => setUsername("") });
  };

  const created = create.data;
  return (
    <Stack maw={640}>
      <Title order={2}>New user</Title>
      {created ? (
        <>
          {created.password && (
            <ShownOnce
              label={`Password of ${created.user.username}`}
              value={created.password}
              note="Give it to them by a safe way; they can change it on their Account page."
              onDone={() => create.reset()}
            />
          )}
          <Group>
            <Anchor component={Link} to={userPath(created.user.id)}>
              Open {created.user.username}
            </Anchor>
            <Anchor component={Link} to="/users">
              All users
            </Anchor>
          </Group>
        </>
      ) : (
        <Card withBorder>
          <form onSubmit={submit} aria-label="New user">
            <Stack>
              <TextInput
                label="Username"
                description="lower-case letters, digits, . _ @ -"
                required
                maxLength={64}
                value={username}
                onChange={(e) => setUsername(e.currentTarget.value)}
              />
              <NativeSelect
                label="Role"
                required
                data={ROLES}
                value={role}
                onChange={(e) => setRole(e.currentTarget.value as Role)}
              />
              {create.isError && <ErrorAlert error={create.error} title="Not created" />}
              <Group>
                <Button type="submit" loading={create.isPending}>
                  Create user
                </Button>
              </Group>
            </Stack>
          </form>
        </Card>
      )}
    </Stack>
  );
}
