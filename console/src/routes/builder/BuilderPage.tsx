/**
 * `/plugins/new/edit` and `/plugins/:slug/edit[?version=N]`: the builder on a new plugin or on a
 * stored version (the newest unless `version` is given), laid out by ELK when loaded.
 */
import { useQuery } from "@tanstack/react-query";
import { useParams, useSearchParams } from "react-router";
import { QueryView } from "../../components/States";
import { Builder, laidOut } from "../../features/builder/Builder";
import { type PluginGraph, emptyDocument, fromDocument } from "../../features/builder/document";
import { nodeTypes } from "../../features/builder/formatSchema";
import { fetchVersion, useFormatSchema, useVersions } from "../../features/builder/queries";
import { takeSaved } from "../../features/builder/saved";

export function BuilderPage() {
  const { slug } = useParams();
  const [params] = useSearchParams();
  const schema = useFormatSchema();
  const versions = useVersions(slug);
  const asked = Number(params.get("version") ?? NaN);
  const newest = versions.data?.reduce((top, v) => Math.max(top, v.version), 0);
  const version = Number.isInteger(asked) && asked > 0 ? asked : newest;
  const ready = schema.data !== undefined && (slug === undefined || version !== undefined);
  const initial = useQuery({
    queryKey: ["builder", slug ?? "", version ?? 0],
    enabled: ready,
    staleTime: Infinity,
    gcTime: 0,
    refetchOnWindowFocus: false,
    queryFn: async (): Promise<PluginGraph> => {
      const kept = slug && version ? takeSaved(slug, version) : undefined;
      if (kept) return kept;
      const types = nodeTypes(schema.data!);
      const portsOf = (type: string) => types.find((t) => t.type === type)?.ports ?? ["ok"];
      const document = slug && version ? (await fetchVersion(slug, version)).document : emptyDocument();
      return laidOut(fromDocument(document as never), portsOf);
    },
  });
  if (schema.isError) return <QueryView query={schema} label="Loading the plugin format">{() => null}</QueryView>;
  if (slug && versions.isError) return <QueryView query={versions} label="Loading the plugin">{() => null}</QueryView>;
  return (
    <QueryView query={initial} label="Loading the builder">
      {(graph) => (
        <Builder
          key={`${slug ?? ""}@${version ?? 0}`}
          schema={schema.data!}
          initial={graph}
          loadedFrom={slug && version ? { slug, version } : null}
        />
      )}
    </QueryView>
  );
}
