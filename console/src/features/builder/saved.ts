/**
 * The graph the builder just saved, kept for the page it navigates to (`?version=N`), so a save
 * keeps the layout the operator arranged instead of laying the stored document out anew.
 */
import type { PluginGraph } from "./document";

const saved = new Map<string, PluginGraph>();

export function keepSaved(slug: string, version: number, graph: PluginGraph): void {
  saved.clear();
  saved.set(`${slug}@${version}`, graph);
}

export function takeSaved(slug: string, version: number): PluginGraph | undefined {
  const graph = saved.get(`${slug}@${version}`);
  saved.delete(`${slug}@${version}`);
  return graph;
}
