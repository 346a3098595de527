/**
 * Place an order by hand (`/orders/new`): the customer (found by e-mail, or created), a product
 * from the catalogue and a hostname go to `POST /api/v1/orders`; the new order's page follows.
 * What the API refuses lands on the field it names (`details.field`: an unknown product, a
 * hostname taken; a 422's `details.problems` paths), anything else above the button.
 */
import { Button, Group, Select, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type ChangeEvent, type FormEvent, useState } from "react";
import { useNavigate } from "react-router";
import { ApiError, api, unwrap } from "../../api/client";
import { may } from "../../api/auth";
import { FormCard } from "../../components/FormCard";
import { formatMoney } from "../../components/time";
import { ErrorAlert, QueryView } from "../../components/States";
import { useUser } from "../../session/session";

type Field = "email" | "name" | "product" | "hostname";
const FIELDS: readonly Field[] = ["email", "name", "product", "hostname"];

/** Where an API error belongs: the field it names, or the form as a whole (`form`). */
export function fieldErrors(error: unknown): Partial<Record<Field | "form", string>> {
  if (!(error instanceof ApiError)) return { form: error instanceof Error ? error.message : String(error) };
  // A refusal names its field (`details.field`: an unknown product, a hostname taken).
  const named = FIELDS.find((f) => f === error.details.field);
  if (named) return { [named]: error.message };
  const problems = error.details.problems;
  if (error.status !== 422 || !Array.isArray(problems)) return { form: error.message };
  const found: Partial<Record<Field | "form", string>> = {};
  for (const problem of problems as { path?: unknown; message?: unknown }[]) {
    const path = String(problem.path ?? "");
    const field: Field | "form" = path.endsWith("customer.email")
      ? "email"
      : path.endsWith("customer.name")
        ? "name"
        : path.endsWith("product")
          ? "product"
          : path.endsWith("hostname")
            ? "hostname"
            : "form";
    found[field] ??= String(problem.message ?? error.message);
  }
  return found;
}

function useProducts() {
  return useQuery({
    queryKey: ["products", "list", { limit: 500 }],
    queryFn: () => unwrap(api.GET("/api/v1/products", { params: { query: { limit: 500 } } })),
  });
}

export function NewOrderPage() {
  const products = useProducts();
  const user = useUser();
  return (
    <Stack maw={640}>
      <Title order={2}>New order</Title>
      <Text size="sm" c="dimmed">
        The order waits for payment: its page then offers the invoice's payment link.
      </Text>
      <QueryView query={products} label="Loading the products">
        {(page) =>
          page.items.length === 0 ? (
            <Text>No products yet: create one in the catalogue first.</Text>
          ) : (
            <NewOrderForm
              products={page.items.map((p) => ({
                value: p.slug,
                label: `${p.name} (${p.slug}) · ${formatMoney(p.price_minor, p.currency)}`,
              }))}
              allowed={may(user, "operator")}
            />
          )
        }
      </QueryView>
    </Stack>
  );
}

type TextField = Exclude<Field, "product">;

function NewOrderForm({ products, allowed }: { products: { value: string; label: string }[]; allowed: boolean }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const [text, setText] = useState<Record<TextField, string>>({ email: "", name: "", hostname: "" });
  const [product, setProduct] = useState<string | null>(products.length === 1 ? products[0]!.value : null);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/orders", {
          body: {
            customer: { email: text.email.trim(), name: text.name.trim() },
            product: product ?? "",
            hostname: text.hostname.trim(),
          },
        }),
      ),
    onSuccess: (created) => {
      void client.invalidateQueries({ queryKey: ["orders"] });
      navigate(`/orders/${created.order.id}`);
    },
  });
  const problems = create.isError ? fieldErrors(create.error) : {};
  /** A text input's value, change handler and the API's problem with it. */
  const bind = (field: TextField) => ({
    required: true,
    value: text[field],
    onChange: (e: ChangeEvent<HTMLInputElement>) => {
      const value = e.currentTarget.value;
      setText((old) => ({ ...old, [field]: value }));
    },
    error: problems[field],
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <FormCard label="New order" locked={!allowed} onSubmit={submit}>
      <TextInput
        label="Customer e-mail"
        type="email"
        description="an existing customer with this e-mail is reused"
        {...bind("email")}
      />
      <TextInput label="Customer name" {...bind("name")} />
      <Select
        label="Product"
        required
        searchable
        data={products}
        value={product}
        onChange={setProduct}
        error={problems.product}
      />
      <TextInput label="Hostname" placeholder="vps1.example.com" {...bind("hostname")} />
      {problems.form && <ErrorAlert error={create.error} title="Not placed" />}
      {!allowed && (
        <Text size="sm" c="dimmed">
          Placing an order needs the operator role.
        </Text>
      )}
      <Group justify="flex-end">
        <Button type="submit" loading={create.isPending} disabled={!allowed}>
          Place order
        </Button>
      </Group>
    </FormCard>
  );
}
