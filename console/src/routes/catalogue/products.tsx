/**
 * Products (`/catalogue/products`): what customers order and how it is provisioned: where
 * (location, connection), by which plugin and version policy, with which image, resources,
 * price, options, refund policy, alarm and password delivery.
 */
import { Group, JsonInput, NumberInput, Select, SimpleGrid, TextInput } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Schemas, unwrap } from "../../api/client";
import { useFilters } from "../../components/ListPage";
import { formatMoney, formatTime } from "../../components/time";
import { useConnections } from "../connections/queries";
import { type Choice, CatalogueList, RefFilter, RefSelect, useKeys, withValue } from "./CatalogueList";
import { EntityPage, type Form } from "./EntityPage";
import { defineKind } from "./kind";

type Product = Schemas["ProductOut"];
type ProductIn = Schemas["ProductIn"];

const SERVICE_TYPES: Schemas["ServiceType"][] = ["vps", "shared", "game", "baremetal"];
const REFUND_POLICIES: Schemas["RefundPolicy"][] = ["suspend", "terminate", "none"];
const DELIVERIES: { value: Schemas["PasswordDelivery"]; label: string }[] = [
  { value: "mail", label: "mail: the password in the welcome mail" },
  { value: "reveal_link", label: "reveal_link: a one-time, expiring link in the mail" },
];
const NEWEST = "newest";

export const PRODUCTS = defineKind<Product, ProductIn>({
  things: "products",
  entity: "product",
  plural: "Products",
  writer: "admin",
  blank: {
    slug: "",
    name: "",
    service_type: "vps",
    location: "",
    connection: "",
    plugin: "",
    plugin_version: null,
    image: null,
    options: {},
    ram_mb: 1024,
    vcpus: 1,
    disk_gb: 20,
    price_minor: 0,
    currency: "EUR",
    refund_policy: "suspend",
    alarm_after_minutes: null,
    password_delivery: "mail",
    nic_mbps: 0,
    placement_strategy: "spread",
    ipv4_address: true,
    ipv6_address: false,
    ipv6_routed: false,
  },
});

export function usePlugins() {
  return useQuery({ queryKey: ["plugins"], queryFn: () => unwrap(api.GET("/api/v1/plugins")) });
}

function usePluginVersions(slug: string) {
  return useQuery({
    queryKey: ["plugins", slug, "versions"],
    enabled: slug !== "",
    queryFn: () => unwrap(api.GET("/api/v1/plugins/{slug}/versions", { params: { path: { slug } } })),
  });
}

/** The connections, as select options (`panel (solusvm2)`). */
export function useConnectionChoices(): Choice[] {
  return (useConnections().data?.items ?? []).map((c) => ({ value: c.name, label: `${c.name} (${c.type})` }));
}

const resources = (p: { ram_mb: number; vcpus: number; disk_gb: number }) =>
  `${p.ram_mb} MB · ${p.vcpus} vCPU · ${p.disk_gb} GB`;

export function ProductsPage() {
  const filters = useFilters();
  const plugins = (usePlugins().data?.items ?? []).map((p) => ({ value: p.slug, label: p.slug }));
  return (
    <CatalogueList
      kind={PRODUCTS}
      query={{ location: filters.get("location"), plugin: filters.get("plugin") }}
      empty="No products yet: a product names a location, a connection and a plugin."
      filters={
        <>
          <RefFilter name="location" label="Location" choices={useKeys("locations")} />
          <RefFilter name="plugin" label="Plugin" choices={plugins} />
        </>
      }
      columns={[
        { header: "Name", cell: (p) => p.name },
        { header: "Location", cell: (p) => p.location },
        { header: "Plugin", cell: (p) => `${p.plugin} ${p.plugin_version ? `v${p.plugin_version}` : "(newest)"}` },
        { header: "Type", cell: (p) => p.service_type },
        { header: "Resources", cell: resources, nowrap: true },
        { header: "Price", cell: (p) => formatMoney(p.price_minor, p.currency), nowrap: true },
      ]}
    />
  );
}

export function ProductPage() {
  return <EntityPage kind={PRODUCTS} render={(form) => <ProductFields form={form} />} />;
}

function ProductFields({ form }: { form: Form<ProductIn> }) {
  const plugins = usePlugins().data?.items ?? [];
  const versions = usePluginVersions(form.draft.plugin).data ?? [];
  const pluginChoices = plugins.map((p) => ({ value: p.slug, label: `${p.slug}${p.name ? ` — ${p.name}` : ""}` }));
  const versionChoices = [
    { value: NEWEST, label: "the newest when a service is provisioned" },
    ...versions.map((v) => ({ value: String(v.version), label: `v${v.version} (${formatTime(v.created_at)})` })),
  ];
  const pickPlugin = (slug: string | null) => {
    const type = plugins.find((p) => p.slug === slug)?.serviceType;
    const known = SERVICE_TYPES.find((t) => t === type);
    // The plugin's service type is the likely one; the API checks the pair.
    form.set({ plugin: slug ?? "", plugin_version: null, ...(known ? { service_type: known } : {}) });
  };
  const version = form.draft.plugin_version;
  return (
    <>
      <SimpleGrid cols={2}>
        <TextInput label="Slug" description="the key orders name it by" required {...form.text("slug")} />
        <TextInput label="Name" required {...form.text("name")} />
      </SimpleGrid>
      <SimpleGrid cols={2}>
        <RefSelect things="locations" label="Location" required {...form.choice("location")} />
        <Select
          label="Connection"
          description="the panel it is provisioned on (of the plugin's connection type)"
          required
          searchable
          {...form.choice("connection")}
          data={withValue(useConnectionChoices(), form.draft.connection || null)}
        />
      </SimpleGrid>
      <SimpleGrid cols={3}>
        <Select
          label="Plugin"
          required
          searchable
          data={withValue(pluginChoices, form.draft.plugin || null)}
          value={form.draft.plugin || null}
          error={form.error("plugin")}
          onChange={pickPlugin}
        />
        <Select
          label="Plugin version"
          description="a number pins it"
          allowDeselect={false}
          data={withValue(versionChoices, version == null ? NEWEST : String(version))}
          value={version == null ? NEWEST : String(version)}
          error={form.error("plugin_version")}
          onChange={(v) => form.set({ plugin_version: v === null || v === NEWEST ? null : Number(v) })}
        />
        <Select label="Service type" required allowDeselect={false} data={SERVICE_TYPES} {...form.choice("service_type")} />
      </SimpleGrid>
      <RefSelect
        things="images"
        label="Image"
        description="the OS image a VPS installs (none: the panel's default)"
        clearable
        {...form.choice("image")}
      />
      <SimpleGrid cols={3}>
        <NumberInput label="RAM (MB)" required min={0} allowDecimal={false} {...form.number("ram_mb")} />
        <NumberInput label="vCPUs" required min={0} allowDecimal={false} {...form.number("vcpus")} />
        <NumberInput label="Disk (GB)" required min={0} allowDecimal={false} {...form.number("disk_gb")} />
      </SimpleGrid>
      <SimpleGrid cols={2}>
        <NumberInput
          label="Price (minor units)"
          description="in cents: 1200 is 12.00"
          required
          min={0}
          allowDecimal={false}
          {...form.number("price_minor")}
        />
        <TextInput label="Currency" description="ISO 4217" required maxLength={3} {...form.text("currency")} />
      </SimpleGrid>
      <SimpleGrid cols={3}>
        <Select
          label="Refund policy"
          description="what a full refund or a chargeback does"
          allowDeselect={false}
          data={REFUND_POLICIES}
          {...form.choice("refund_policy")}
        />
        <NumberInput
          label="Alarm after (minutes)"
          description="a paid order not active by then is an alarm; empty: the default"
          min={1}
          allowDecimal={false}
          {...form.number("alarm_after_minutes")}
        />
        <Select
          label="Password delivery"
          allowDeselect={false}
          data={DELIVERIES}
          {...form.choice("password_delivery")}
        />
      </SimpleGrid>
      <OptionsField form={form} />
    </>
  );
}

/** The plugin's settings for this product, as JSON; what does not parse is sent as typed, and
 * the API names it. */
function OptionsField({ form }: { form: Form<ProductIn> }) {
  const [text, setText] = useState(() => JSON.stringify(form.draft.options ?? {}, null, 2));
  return (
    <Group grow>
      <JsonInput
        label="Options"
        description="the plugin's product settings (its settings schema), as a JSON object"
        rows={4}
        formatOnBlur
        validationError="not JSON (sent as typed, the API will say so)"
        value={text}
        error={form.error("options")}
        onChange={(value) => {
          setText(value);
          let parsed: unknown = value;
          try {
            parsed = JSON.parse(value || "{}");
          } catch {
            // Sent as typed: the API answers which field is wrong.
          }
          form.set({ options: parsed as ProductIn["options"] });
        }}
      />
    </Group>
  );
}
