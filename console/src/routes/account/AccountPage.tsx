/** One's own account (`/account`, everyone signed in): change the password, and one's own API
 * tokens. A password change ends every session of the user: the API answers a new one for this
 * browser (the console stays signed in), or none (then back to the login page). */
import { Alert, Button, Card, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { type ChangeEvent, type FormEvent, useState } from "react";
import { useNavigate } from "react-router";
import { ErrorAlert } from "../../components/States";
import { ME, useUser } from "../../session/session";
import { useChangePassword } from "../users/queries";
import { TokensPanel } from "../users/TokensPanel";

export function AccountPage() {
  const user = useUser();
  return (
    <Stack maw={960}>
      <Title order={2}>Your account</Title>
      <Text size="sm" c="dimmed">
        Signed in as {user?.username} ({user?.role}).
      </Text>
      <PasswordCard />
      {user?.id != null ? (
        <TokensPanel owner={{ own: true }} whose="you" />
      ) : (
        <Text size="sm">The installation token is not a user: it has no password and no tokens of its own.</Text>
      )}
    </Stack>
  );
}

function PasswordCard() {
  const change = useChangePassword();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const mismatch = again !== "" && next !== again;
  const typed = (set: (value: string) => void) => (e: ChangeEvent<HTMLInputElement>) => set(e.currentTarget.value);
  const fields = [
    { label: "Current password", autoComplete: "current-password", value: current, onChange: typed(setCurrent) },
    {
      label: "New password",
      description: "at least 12 characters",
      autoComplete: "new-password",
      value: next,
      onChange: typed(setNext),
    },
    {
      label: "New password again",
      autoComplete: "new-password",
      value: again,
      error: mismatch ? "the two new passwords differ" : undefined,
      onChange: typed(setAgain),
    },
  ];

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (next !== again) return;
    change.mutate(
      { current_password: current, new_password: next },
      {
        onSuccess: (answer) => {
          setCurrent("");
          setNext("");
          setAgain("");
          if (answer.csrf_token === null) {
            // No new session for this browser: sign in again with the new password.
            client.clear();
            client.setQueryData(ME, null);
            navigate(`/login?changed=password`, { replace: true });
          }
        },
      },
    );
  };

  return (
    <Card withBorder component="section" aria-label="Password">
      <form onSubmit={submit} aria-label="Change password">
        <Stack maw={400}>
          <Title order={3} size="h4">
            Password
          </Title>
          {change.isSuccess && (
            <Alert color="green" title="Password changed" role="status">
              Every other session of yours has ended (other browsers sign in again with the new
              password); this one goes on. Your API tokens keep working.
            </Alert>
          )}
          {fields.map((field) => (
            <PasswordInput key={field.label} required {...field} />
          ))}
          {change.isError && <ErrorAlert error={change.error} title="Not changed" />}
          <Button type="submit" loading={change.isPending} disabled={mismatch} style={{ alignSelf: "flex-start" }}>
            Change password
          </Button>
        </Stack>
      </form>
    </Card>
  );
}
