/**
 * Hosts (`/catalogue/hosts`): where services are placed: capacity used of total, and status
 * (active takes new services; draining and quarantined keep theirs and take none), with quick
 * drain / quarantine / reactivate (each a PATCH of `status`, after a confirmation).
 */
import { Card, Group, NumberInput, Progress, Select, SimpleGrid, Stack, Text, TextInput } from "@mantine/core";
import type { Schemas } from "../../api/client";
import { may } from "../../api/auth";
import { ConfirmButton } from "../../components/ConfirmButton";
import { useFilters } from "../../components/ListPage";
import { ErrorAlert } from "../../components/States";
import { StatusBadge } from "../../components/StatusBadge";
import { useUser } from "../../session/session";
import { CatalogueList, ChoiceFilter, RefFilter, RefSelect, useChoice, useKeys, withValue } from "./CatalogueList";
import { EntityPage } from "./EntityPage";
import { defineKind, useSaveEntry } from "./kind";
import { useConnectionChoices } from "./products";

type Host = Schemas["HostOut"];
type Status = Schemas["HostStatus"];
const STATUSES: Status[] = ["active", "draining", "quarantined"];

export const HOSTS = defineKind<Host, Schemas["HostIn"]>({
  things: "hosts",
  entity: "host",
  plural: "Hosts",
  writer: "admin",
  blank: {
    name: "",
    location: "",
    ram_mb: 0,
    vcpus: 0,
    disk_gb: 0,
    subnet: null,
    connection: null,
    status: "active",
    external_ref: null,
    nic_mbps: 0,
  },
});

const RESOURCES = [
  { name: "RAM", unit: "MB", used: (h: Host) => h.ram_mb_used, total: (h: Host) => h.ram_mb },
  { name: "vCPUs", unit: "", used: (h: Host) => h.vcpus_used, total: (h: Host) => h.vcpus },
  { name: "Disk", unit: "GB", used: (h: Host) => h.disk_gb_used, total: (h: Host) => h.disk_gb },
] as const;

/** `1024 / 4096 MB`. */
export function usedOf(used: number, total: number, unit: string): string {
  return `${used} / ${total}${unit ? ` ${unit}` : ""}`;
}

export function HostsPage() {
  const filters = useFilters();
  const status = useChoice("status", STATUSES);
  return (
    <CatalogueList
      kind={HOSTS}
      query={{ location: filters.get("location"), status }}
      filters={
        <>
          <RefFilter name="location" label="Location" choices={useKeys("locations")} />
          <ChoiceFilter name="status" label="Host status" values={STATUSES} />
        </>
      }
      empty="No hosts yet: services are placed on a host of their product's location."
      columns={[
        { header: "Location", cell: (h) => h.location },
        { header: "Status", cell: (h) => <StatusBadge status={h.status} /> },
        ...RESOURCES.map((r) => ({
          header: `${r.name} used`,
          cell: (h: Host) => usedOf(r.used(h), r.total(h), r.unit),
          nowrap: true,
        })),
        { header: "Subnet", cell: (h) => h.subnet ?? "—", monospace: true },
      ]}
    />
  );
}

export function HostPage() {
  return (
    <EntityPage
      kind={HOSTS}
      summary={(host) => <Capacity host={host} />}
      render={(form) => (
        <>
          <SimpleGrid cols={2}>
            <TextInput label="Name" required {...form.text("name")} />
            <RefSelect
              things="locations"
              label="Location"
              required
              {...form.choice("location")}
              onChange={(location) => form.set({ location: location ?? "", subnet: null })}
            />
          </SimpleGrid>
          <SimpleGrid cols={3}>
            <NumberInput label="RAM total (MB)" required min={0} allowDecimal={false} {...form.number("ram_mb")} />
            <NumberInput label="vCPUs total" required min={0} allowDecimal={false} {...form.number("vcpus")} />
            <NumberInput label="Disk total (GB)" required min={0} allowDecimal={false} {...form.number("disk_gb")} />
          </SimpleGrid>
          <SimpleGrid cols={2}>
            <RefSelect
              things="subnets"
              filters={{ location: form.draft.location || undefined }}
              label="Subnet"
              description="its services' addresses (a subnet of its location)"
              clearable
              {...form.choice("subnet")}
            />
            <Select
              label="Connection"
              description="its panel's connection"
              clearable
              searchable
              {...form.choice("connection")}
              data={withValue(useConnectionChoices(), form.draft.connection ?? null)}
            />
          </SimpleGrid>
          <SimpleGrid cols={2}>
            <Select
              label="Status"
              description="active takes new services; draining and quarantined take none"
              allowDeselect={false}
              data={STATUSES}
              {...form.choice("status")}
            />
            <TextInput label="External ref" description="the panel's node id" {...form.text("external_ref", true)} />
          </SimpleGrid>
        </>
      )}
    />
  );
}

/** What the host's services use of its capacity, its status, and the moves to another status. */
function Capacity({ host }: { host: Host }) {
  return (
    <Card withBorder role="region" aria-label="Capacity">
      <Group justify="space-between" mb="xs">
        <Group gap="xs">
          <Text fw={500}>Capacity</Text>
          <StatusBadge status={host.status} />
        </Group>
        <StatusActions host={host} />
      </Group>
      <SimpleGrid cols={3}>
        {RESOURCES.map((r) => {
          const used = r.used(host);
          const total = r.total(host);
          const share = total > 0 ? (100 * used) / total : 0;
          return (
            <Stack key={r.name} gap={4}>
              <Text size="sm">
                {r.name}: {usedOf(used, total, r.unit)}
              </Text>
              <Progress
                value={share}
                color={share > 90 ? "red" : share > 70 ? "orange" : "blue"}
                aria-label={`${r.name} used`}
              />
            </Stack>
          );
        })}
      </SimpleGrid>
    </Card>
  );
}

const MOVES: { to: Status; label: string; question: string }[] = [
  { to: "draining", label: "Drain", question: "keeps what it runs and takes no new services (maintenance, retirement)." },
  { to: "quarantined", label: "Quarantine", question: "keeps what it runs and takes no new services: something is wrong with it." },
  { to: "active", label: "Reactivate", question: "takes new services again." },
];

/** Drain, quarantine or reactivate the host (to each status it is not in), for an admin. */
function StatusActions({ host }: { host: Host }) {
  const save = useSaveEntry<Host>(HOSTS, host.id);
  const writable = may(useUser(), HOSTS.writer);
  if (!writable) return null;
  return (
    <Stack gap={4} align="flex-end">
      <Group gap="xs">
        {MOVES.filter((m) => m.to !== host.status).map((move) => (
          <ConfirmButton
            key={move.to}
            size="xs"
            variant="light"
            color={move.to === "active" ? "green" : "orange"}
            loading={save.isPending}
            label={move.label}
            question={`${move.label} host ${host.name}? It ${move.question}`}
            onConfirm={() => save.mutate({ status: move.to })}
          />
        ))}
      </Group>
      {save.isError && <ErrorAlert error={save.error} title="Status not changed" />}
    </Stack>
  );
}
