/**
 * The form kit of the catalogue: one page to create (`/catalogue/<things>/new`) or read, change
 * and delete (`/catalogue/<things>/:id`) an entry of any kind, with its history.
 *
 * A kind's page only lays out its fields (`render`), bound by name to the draft with `Form`;
 * the kit does the rest alike for all six: loading and error states, the API's 422 problems on
 * the fields they name, a PATCH of only what changed, delete behind a confirmation with the
 * API's refusal (409: what uses it) shown as it came, and read-only for a role the API would
 * refuse (its 403 is shown if it happens anyway).
 */
import { Alert, Button, Card, Group, List, Stack, Text, Title } from "@mantine/core";
import { type ChangeEvent, type FormEvent, type ReactNode, useState } from "react";
import { useNavigate, useParams } from "react-router";
import { ApiError, type Schemas } from "../../api/client";
import { may } from "../../api/auth";
import { ConfirmButton } from "../../components/ConfirmButton";
import { type Column, ListTable } from "../../components/ListPage";
import { Empty, ErrorAlert, Loading, QueryView } from "../../components/States";
import { formatTime } from "../../components/time";
import { useUser } from "../../session/session";
import { changed, type Kind, useDeleteEntry, useEntry, useHistory, useSaveEntry } from "./kind";
import { placeProblems } from "./problems";

/** The draft of one entry and its fields' bindings, for Mantine inputs. */
export interface Form<In> {
  draft: In;
  /** Change some fields of the draft. */
  set: (patch: Partial<In>) => void;
  /** Whether the signed-in role may write this kind (else every input is disabled). */
  writable: boolean;
  /** The API's problems with a field, as the input's `error`. */
  error: (name: keyof In & string) => string | undefined;
  /** A text input's props; `nullable`: an empty field is sent as null. */
  text: (
    name: keyof In & string,
    nullable?: boolean,
  ) => { value: string; error: string | undefined; onChange: (e: ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => void };
  /** A number input's props (an empty field is null: the API names it if it needs a value). */
  number: (name: keyof In & string) => {
    value: number | string;
    error: string | undefined;
    onChange: (value: number | string) => void;
  };
  /** A select's props. */
  choice: (name: keyof In & string) => {
    value: string | null;
    error: string | undefined;
    onChange: (value: string | null) => void;
  };
}

export interface EntityPageProps<Out extends { id: number }, In extends object> {
  kind: Kind<Out, In>;
  /** The kind's fields, laid out. */
  render: (form: Form<In>, existing: Out | undefined) => ReactNode;
  /** What to show of an existing entry above its form (a host's capacity and status moves). */
  summary?: (existing: Out) => ReactNode;
}

export function EntityPage<Out extends { id: number }, In extends object>(props: EntityPageProps<Out, In>) {
  const raw = useParams().id;
  const id = raw === undefined ? undefined : /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  const existing = useEntry<Out>(props.kind, Number.isNaN(id) ? undefined : id);
  if (Number.isNaN(id)) return <Empty>No such {props.kind.entity}.</Empty>;
  if (id !== undefined && existing.isPending) return <Loading label={`Loading the ${props.kind.entity}`} />;
  if (existing.isError) return <ErrorAlert error={existing.error} />;
  return <EntityView {...props} existing={existing.data} />;
}

function EntityView<Out extends { id: number }, In extends object>({
  kind,
  render,
  summary,
  existing,
}: EntityPageProps<Out, In> & { existing: Out | undefined }) {
  const navigate = useNavigate();
  const writable = may(useUser(), kind.writer);
  const save = useSaveEntry<Out>(kind, existing?.id);
  const remove = useDeleteEntry(kind);
  const list = `/catalogue/${kind.things}`;
  return (
    <Stack maw={820}>
      <Group justify="space-between">
        <Title order={2}>{existing ? `${capital(kind.entity)} ${kind.label(existing)}` : `New ${kind.entity}`}</Title>
        {existing && (
          <Group gap="xs">
            {writable && (
              <ConfirmButton
                size="xs"
                variant="outline"
                label="Delete"
                question={`Delete ${kind.entity} ${kind.label(existing)}? The API refuses while anything uses it.`}
                onConfirm={() => remove.mutate(existing.id, { onSuccess: () => navigate(list) })}
              />
            )}
          </Group>
        )}
      </Group>
      {remove.isError && <ErrorAlert error={remove.error} title="Not deleted" />}
      {existing && summary?.(existing)}
      <Card withBorder>
        <EntityForm
          // A fresh draft whenever the stored fields change (saved here, or a quick action);
          // not for what the form does not hold (a host's used capacity moving with orders).
          key={JSON.stringify(existing ? kind.fromRow(existing) : null)}
          kind={kind}
          render={render}
          existing={existing}
          writable={writable}
          error={save.error}
          saving={save.isPending}
          onSubmit={(draft) =>
            save.mutate(existing ? changed(kind.fromRow(existing), draft) : draft, {
              onSuccess: (saved) => {
                if (!existing) navigate(`${list}/${saved.id}`, { replace: true });
              },
            })
          }
        />
        {save.isSuccess && existing && (
          <Alert color="green" mt="sm">
            Saved.
          </Alert>
        )}
      </Card>
      {existing && <History entity={kind.entity} id={existing.id} />}
    </Stack>
  );
}

function EntityForm<Out extends { id: number }, In extends object>({
  kind,
  render,
  existing,
  writable,
  error,
  saving,
  onSubmit,
}: {
  kind: Kind<Out, In>;
  render: EntityPageProps<Out, In>["render"];
  existing: Out | undefined;
  writable: boolean;
  error: unknown;
  saving: boolean;
  onSubmit: (draft: In) => void;
}) {
  const [draft, setDraft] = useState<In>(() => (existing ? kind.fromRow(existing) : kind.blank));
  const placed = placeProblems(error, Object.keys(kind.blank));
  const form = bind(draft, (patch) => setDraft((old) => ({ ...old, ...patch })), writable, placed.fields);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit(draft);
  };
  return (
    // noValidate: the marks on required fields are hints; the API says what is wrong.
    <form onSubmit={submit} aria-label={capital(kind.entity)} noValidate>
      <fieldset disabled={!writable} style={{ border: 0, padding: 0, margin: 0 }}>
        <Stack>
          {render(form, existing)}
          {error != null && <NotSaved error={error} rest={placed.rest} />}
          {writable && (
            <Group justify="flex-end">
              <Button type="submit" loading={saving}>
                {existing ? "Save changes" : `Create ${kind.entity}`}
              </Button>
            </Group>
          )}
        </Stack>
      </fieldset>
    </form>
  );
}

/** Bind the inputs of a form to `draft` by field name. */
export function bind<In extends object>(
  draft: In,
  set: (patch: Partial<In>) => void,
  writable: boolean,
  problems: Map<string, string[]>,
): Form<In> {
  const value = (name: keyof In & string) => draft[name] as unknown;
  const put = (name: keyof In & string, v: unknown) => set({ [name]: v } as Partial<In>);
  const error = (name: keyof In & string) => problems.get(name)?.join("; ");
  return {
    draft,
    set,
    writable,
    error,
    text: (name, nullable = false) => ({
      value: String(value(name) ?? ""),
      error: error(name),
      onChange: (e) => put(name, nullable && e.currentTarget.value === "" ? null : e.currentTarget.value),
    }),
    number: (name) => ({
      value: (value(name) as number | null) ?? "",
      error: error(name),
      onChange: (v) => put(name, v === "" ? null : Number(v)),
    }),
    choice: (name) => ({
      value: (value(name) as string | null) ?? null,
      error: error(name),
      onChange: (v) => put(name, v),
    }),
  };
}

/** Why a save failed: a validation answer's message and the problems that name no field;
 * anything else (403, 409) as the API said it. */
function NotSaved({ error, rest }: { error: unknown; rest: { path: string; message: string }[] }) {
  if (!(error instanceof ApiError) || error.status !== 422) return <ErrorAlert error={error} title="Not saved" />;
  return (
    <Alert color="red" title="Not saved" role="alert">
      <Text size="sm">{error.message}</Text>
      {rest.length > 0 && (
        <List size="sm" mt={4}>
          {rest.map((p) => (
            <List.Item key={`${p.path}:${p.message}`}>
              {p.path}: {p.message}
            </List.Item>
          ))}
        </List>
      )}
    </Alert>
  );
}

/** Who changed what, when: the entry's audit rows, newest first. */
export function History({ entity, id }: { entity: string; id: number }) {
  const query = useHistory(entity, id);
  return (
    <Card withBorder>
      <Title order={4} mb="xs">
        History
      </Title>
      <QueryView query={query} label="Loading the history">
        {({ items }) =>
          items.length === 0 ? (
            <Empty>No recorded changes.</Empty>
          ) : (
            <ListTable label="History" columns={HISTORY} rows={items} rowKey={(row) => row.id} />
          )
        }
      </QueryView>
    </Card>
  );
}

const HISTORY: Column<Schemas["AuditOut"]>[] = [
  { header: "When", cell: (row) => formatTime(row.created_at), monospace: true, nowrap: true },
  { header: "Who", cell: (row) => row.actor },
  { header: "Change", cell: (row) => row.action.split(".").pop() },
  {
    header: "What",
    cell: (row) =>
      describeChanges(row.changes).map((line) => (
        <Text key={line} size="xs" ff="monospace">
          {line}
        </Text>
      )),
  },
];

/** An audit row's changes, one line a field: `ram_mb: 2048 → 4096`, or `name: "x"` when set. */
export function describeChanges(changes: Record<string, unknown>): string[] {
  const show = (v: unknown) => JSON.stringify(v) ?? "null";
  return Object.entries(changes).map(([field, change]) => {
    if (change && typeof change === "object" && "from" in change && "to" in change) {
      return `${field}: ${show(change.from)} → ${show(change.to)}`;
    }
    return `${field}: ${show(change)}`;
  });
}

export function capital(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
