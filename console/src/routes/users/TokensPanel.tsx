/** A user's API tokens (one's own on /account, anyone's for an admin on /users/:id): the list
 * (name, prefix, expiry, last use, never the token), a new one shown once, revoke after asking. */
import { Badge, Button, Card, Group, NumberInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { type FormEvent, useState } from "react";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ListTable } from "../../components/ListPage";
import { ShownOnce } from "../../components/ShownOnce";
import { Empty, ErrorAlert, QueryView } from "../../components/States";
import { formatTime } from "../../components/time";
import { type TokenOwner, type TokenRow, useCreateToken, useRevokeToken, useTokens } from "./queries";

export function TokensPanel({ owner, whose }: { owner: TokenOwner; whose: string }) {
  const tokens = useTokens(owner);
  const create = useCreateToken(owner);
  const revoke = useRevokeToken(owner);
  const [name, setName] = useState("");
  const [days, setDays] = useState<number | string>("");

  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate(
      { name, expires_in_days: typeof days === "number" ? days : null },
      {
        onSuccess: () => {
          setName("");
          setDays("");
        },
      },
    );
  };

  const columns = [
    { header: "Name", cell: (t: TokenRow) => t.name },
    { header: "Prefix", cell: (t: TokenRow) => `${t.prefix}…`, monospace: true, nowrap: true },
    { header: "Created", cell: (t: TokenRow) => formatTime(t.created_at), nowrap: true },
    { header: "Expires", cell: (t: TokenRow) => (t.expires_at ? formatTime(t.expires_at) : "never"), nowrap: true },
    { header: "Last used", cell: (t: TokenRow) => (t.last_used_at ? formatTime(t.last_used_at) : "never"), nowrap: true },
    {
      header: "State",
      cell: (t: TokenRow) =>
        t.revoked_at ? (
          <Badge color="gray" variant="light" title={`revoked ${formatTime(t.revoked_at)}`}>
            revoked
          </Badge>
) : (
          <ConfirmButton
            size="compact-xs"
            variant="outline"
            label={`Revoke ${t.name}`}
            question={`Revoke the token ${t.name} (${t.prefix}…)? It stops working at once; scripts using it get 401.`}
            onConfirm={() => revoke.mutate(t.id)}
          />
        ),
    },
  ];

  return (
    <Card withBorder component="section" aria-label="API tokens">
      <Stack>
        <Title order={3} size="h4">
          API tokens
        </Title>
        <Text size="sm" c="dimmed">
          For scripts: send <code>Authorization: Bearer &lt;token&gt;</code>. A token acts as {whose} with
          {" "}{whose === "you" ? "your" : "their"} current role.
        </Text>
        {create.data && (
          <ShownOnce
            label={`New token ${create.data.name}`}
            value={create.data.token}
            onDone={() => create.reset()}
          />
        )}
        {create.isError && <ErrorAlert error={create.error} title="No token created" />}
        {revoke.isError && <ErrorAlert error={revoke.error} title="Not revoked" />}
        <QueryView query={tokens} label="Loading tokens">
          {({ items }) =>
            items.length === 0 ? (
              <Empty>No API tokens.</Empty>
            ) : (
              <ListTable label="Tokens" columns={columns} rows={items} rowKey={(t) => t.id} />
            )
          }
        </QueryView>
        <form onSubmit={submit} aria-label="New token">
          <Group align="flex-end" gap="xs">
            <TextInput
              label="Token name"
              description="what it is for"
              required
              maxLength={100}
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
            />
            <NumberInput
              label="Expires in days"
              description="empty: never"
              min={1}
              max={3650}
              w={140}
              value={days}
              onChange={setDays}
            />
            <Button type="submit" loading={create.isPending}>
              Create token
            </Button>
          </Group>
        </form>
      </Stack>
    </Card>
  );
}
