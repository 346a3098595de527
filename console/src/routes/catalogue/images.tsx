/** OS images (`/catalogue/images`): a URL with the digest its bytes must have, and a status. */
import { Select, SimpleGrid, TextInput, Textarea } from "@mantine/core";
import type { Schemas } from "../../api/client";
import { StatusBadge } from "../../components/StatusBadge";
import { CatalogueList, ChoiceFilter, useChoice } from "./CatalogueList";
import { EntityPage } from "./EntityPage";
import { defineKind } from "./kind";

const STATUSES: Schemas["ImageStatus"][] = ["active", "quarantined"];
const FAMILIES: Schemas["OsFamily"][] = ["linux", "bsd", "windows"];

export const IMAGES = defineKind<Schemas["ImageOut"], Schemas["ImageIn"]>({
  things: "images",
  entity: "image",
  plural: "Images",
  writer: "admin",
  blank: {
    slug: "",
    name: "",
    os_family: "linux",
    source_url: "",
    sha256: null,
    sha512: null,
    status: "active",
    external_ref: null,
    user_data_template: null,
  },
});

export function ImagesPage() {
  const status = useChoice("status", STATUSES);
  return (
    <CatalogueList
      kind={IMAGES}
      query={{ status }}
      filters={<ChoiceFilter name="status" label="Image status" values={STATUSES} />}
      empty="No images yet: a VPS product installs one."
      columns={[
        { header: "Name", cell: (i) => i.name },
        { header: "Status", cell: (i) => <StatusBadge status={i.status} /> },
        { header: "Family", cell: (i) => i.os_family },
        { header: "Source", cell: (i) => i.source_url, monospace: true },
        { header: "Digest", cell: (i) => (i.sha256 ? "sha256" : "") + (i.sha512 ? " sha512" : "") },
      ]}
    />
  );
}

export function ImagePage() {
  return (
    <EntityPage
      kind={IMAGES}
      render={(form) => (
        <>
          <SimpleGrid cols={3}>
            <TextInput label="Slug" required {...form.text("slug")} />
            <TextInput label="Name" required {...form.text("name")} />
            <Select label="OS family" allowDeselect={false} data={FAMILIES} {...form.choice("os_family")} />
          </SimpleGrid>
          <TextInput
            label="Source URL"
            description="http(s):// (no credentials, query or fragment) or file:///absolute/path"
            required
            {...form.text("source_url")}
          />
          <TextInput label="SHA-256" description="64 hex digits (this or SHA-512)" ff="monospace" {...form.text("sha256", true)} />
          <TextInput label="SHA-512" description="128 hex digits" ff="monospace" {...form.text("sha512", true)} />
          <SimpleGrid cols={2}>
            <Select
              label="Status"
              description="quarantined when its bytes did not match; set active again once fixed"
              allowDeselect={false}
              data={STATUSES}
              {...form.choice("status")}
            />
            <TextInput label="External ref" description="the panel's template id" {...form.text("external_ref", true)} />
          </SimpleGrid>
          <Textarea
            label="User data template"
            description="#cloud-config or a #! script, rendered per install"
            rows={4}
            ff="monospace"
            {...form.text("user_data_template", true)}
          />
        </>
      )}
    />
  );
}
