/**
 * The plugin builder: tabs for the header and each flow, a palette of the format's node types,
 * the canvas, and the selected node's properties; validated against the API while editing
 * (debounced), saved as a new version, tested against a test connection, imported and exported.
 */
import {
  ActionIcon,
  Alert,
  Anchor,
  Badge,
  Box,
  Button,
  FileButton,
  Group,
  Menu,
  Paper,
  ScrollArea,
  Select,
  Stack,
  Tabs,
  Text,
  TextInput,
  Tooltip,
} from "@mantine/core";
import { ReactFlowProvider } from "@xyflow/react";
import { type KeyboardEvent, useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { ErrorAlert } from "../../components/States";
import { Canvas, PALETTE_MIME } from "./Canvas";
import { type JsonObject, type NodeObject, type PluginGraph, type Position, drawnEdges, fromDocument, header, toDocument } from "./document";
import type { FlowNodeData } from "./FlowNode";
import { type JsonSchema, type NodeType, headerSchema, newNode, nodeTypes, verbs as formatVerbs } from "./formatSchema";
import { layoutFlow } from "./layout";
import { type Located, locateAll, nodeProblems, problemCounts } from "./problems";
import { type Validation, problemsOf, saveDocument, validateDocument } from "./queries";
import { SchemaForm } from "./SchemaForm";
import { builderReducer, freeId, initialState } from "./store";
import { TestPanel, type TraceView } from "./TestPanel";
import { importFromUrl } from "./importExport";
import { keepSaved } from "./saved";

const HEADER_TAB = "plugin";

/** Lay out every flow of a graph (a loaded document has no positions). */
export async function laidOut(graph: PluginGraph, portsOf: (type: string) => string[]): Promise<PluginGraph> {
  const flows = await Promise.all(
    graph.flows.map(async ({ verb, flow }) => {
      const positions = await layoutFlow(flow, portsOf);
      return { verb, flow: { ...flow, nodes: flow.nodes.map((n) => ({ ...n, position: positions[n.node.id] ?? n.position })) } };
    }),
  );
  return { ...graph, flows };
}

function isTyping(event: KeyboardEvent): boolean {
  const target = event.target as HTMLElement;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

export interface BuilderProps {
  schema: JsonSchema;
  initial: PluginGraph;
  /** The stored version it was loaded from, if any. */
  loadedFrom: { slug: string; version: number } | null;
}

export function Builder({ schema, initial, loadedFrom }: BuilderProps) {
  const [state, dispatch] = useReducer(builderReducer, initial, initialState);
  const navigate = useNavigate();
  const types = useMemo(() => nodeTypes(schema), [schema]);
  const verbs = useMemo(() => formatVerbs(schema), [schema]);
  const portsByType = useMemo(() => new Map(types.map((t) => [t.type, t.ports])), [types]);
  const portsOf = useCallback((type: string) => portsByType.get(type) ?? ["ok"], [portsByType]);
  const [validation, setValidation] = useState<Validation | null>(null);
  const [checking, setChecking] = useState(false);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [testing, setTesting] = useState(false);
  const [trace, setTrace] = useState<TraceView | null>(null);
  const [importUrl, setImportUrl] = useState("");
  // A save navigates to the saved version's URL; its notice comes along in the history state.
  const arrived = (useLocation().state as { notice?: string } | null)?.notice ?? null;
  const [notice, setNotice] = useState<string | null>(arrived);
  const graphRef = useRef(state.graph);
  graphRef.current = state.graph;
  const tabRef = useRef(state.tab);
  tabRef.current = state.tab;
  const followTrace = useCallback((next: TraceView | null) => {
    setTrace(next);
    if (next && next.verb !== tabRef.current) dispatch({ kind: "tab", tab: next.verb });
  }, []);

  // Validate while editing: a quiet moment after the last change, the whole draft.
  useEffect(() => {
    let stale = false;
    const timer = setTimeout(() => {
      setChecking(true);
      void validateDocument(toDocument(state.graph)).then((answer) => {
        if (!stale) {
          setValidation(answer);
          setChecking(false);
        }
      });
    }, 600);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [state.revision]);

  const located: Located[] = useMemo(
    () => (validation ? locateAll(state.graph, validation.problems) : []),
    [validation, state.graph],
  );
  const flowEntry = state.graph.flows.find((f) => f.verb === state.tab);
  const flow = flowEntry?.flow;
  const counts = useMemo(() => problemCounts(located, state.tab), [located, state.tab]);
  const edgeProblems = useMemo(
    () => new Set(located.flatMap((p) => (p.place.kind === "edge" && p.place.verb === state.tab ? [p.place.edgeKey] : []))),
    [located, state.tab],
  );
  const traceMarks = useMemo(() => {
    const marks = new Map<string, FlowNodeData["trace"]>();
    if (!trace || trace.verb !== state.tab) return marks;
    trace.steps.slice(0, trace.current + 1).forEach((step, index) => {
      marks.set(step.node, index === trace.current ? "current" : step.error ? "failed" : "ran");
    });
    return marks;
  }, [trace, state.tab]);

  const selectedNode = flow?.nodes.find((n) => n.node.id === state.selected[0]);
  const selectedType = types.find((t) => t.type === selectedNode?.node.type);

  const addNode = (type: NodeType, position?: Position) => {
    if (!flow) return;
    const id = freeId(flow, type.type);
    const last = flow.nodes[flow.nodes.length - 1]?.position ?? { x: 0, y: 0 };
    dispatch({
      kind: "addNode",
      node: newNode(schema, type, id) as NodeObject,
      position: position ?? { x: last.x, y: last.y + 110 },
    });
  };

  const relayout = async () => {
    if (!flow) return;
    dispatch({ kind: "layout", verb: state.tab, positions: await layoutFlow(flow, portsOf) });
  };

  const save = async () => {
    setSaving(true);
    setSaveError(null);
    try {
      const answer = await saveDocument(toDocument(state.graph));
      const saved = answer.unchanged
        ? `Nothing changed: ${answer.slug}@${answer.version} is identical`
        : `Saved as version ${answer.version}, loaded`;
      setNotice(saved);
      setValidation({ problems: [], warnings: answer.warnings, failure: null });
      if (!loadedFrom || loadedFrom.slug !== answer.slug || loadedFrom.version !== answer.version) {
        keepSaved(answer.slug, answer.version, state.graph);
        navigate(`/plugins/${encodeURIComponent(answer.slug)}/edit?version=${answer.version}`, {
          replace: true,
          state: { notice: saved },
        });
      }
    } catch (error) {
      const problems = problemsOf(error);
      if (problems) setValidation({ problems, warnings: [], failure: null });
      setSaveError(error);
    } finally {
      setSaving(false);
    }
  };

  const exportFile = () => {
    const document = toDocument(state.graph);
    const blob = new Blob([`${JSON.stringify(document, null, 2)}\n`], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const link = window.document.createElement("a");
    link.href = url;
    link.download = `${String(header(state.graph).slug ?? "plugin")}.json`;
    link.click();
    URL.revokeObjectURL(url);
  };

  const loadDocument = async (document: JsonObject, what: string) => {
    const graph = await laidOut(fromDocument(document), portsOf);
    dispatch({ kind: "load", graph });
    setNotice(`Imported ${what}`);
  };

  const importFile = async (file: File | null) => {
    if (!file) return;
    try {
      const parsed = JSON.parse(await file.text()) as unknown;
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the file is not a JSON object");
      await loadDocument(parsed as JsonObject, file.name);
    } catch (error) {
      setSaveError(error);
    }
  };

  const importUrlNow = async () => {
    try {
      await loadDocument(await importFromUrl(importUrl), importUrl);
      setImportUrl("");
    } catch (error) {
      setSaveError(error);
    }
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (isTyping(event)) return;
    const mod = event.ctrlKey || event.metaKey;
    if (!mod) return;
    const key = event.key.toLowerCase();
    if (key === "z" && !event.shiftKey) dispatch({ kind: "undo" });
    else if ((key === "z" && event.shiftKey) || key === "y") dispatch({ kind: "redo" });
    else if (key === "c") dispatch({ kind: "copy" });
    else if (key === "v") dispatch({ kind: "paste" });
    else return;
    event.preventDefault();
  };

  const headerProblems = useMemo(() => {
    const out = new Map<string, string[]>();
    for (const p of located) {
      if (p.place.kind === "header") {
        const key = p.place.field ?? "";
        out.set(key, [...(out.get(key) ?? []), p.message]);
      }
    }
    return out;
  }, [located]);
  const otherProblems = located.filter(
    (p) => p.place.kind === "document" || p.place.kind === "flow" || (p.place.kind === "header" && !p.place.field),
  );
  const problemsOfTab = (verb: string) =>
    located.filter((p) => "verb" in p.place && p.place.verb === verb).length;
  const slug = String(header(state.graph).slug ?? "");
  const missingVerbs = verbs.filter((v) => !state.graph.flows.some((f) => f.verb === v));

  return (
    <Stack gap={6} h="calc(100vh - 56px - 2 * var(--mantine-spacing-lg))" onKeyDown={onKeyDown}>
      <Group justify="space-between" gap="xs" wrap="nowrap">
        <Group gap="xs" wrap="nowrap" style={{ minWidth: 0, flex: 1 }}>
          <Text fw={700} size="lg" style={{ whiteSpace: "nowrap" }}>
            {slug || "new plugin"}
          </Text>
          {loadedFrom && (
            <Badge variant="light" style={{ flexShrink: 0 }}>
              from v{loadedFrom.version}
            </Badge>
          )}
          <ValidationBadge validation={validation} checking={checking} />
          {notice && (
            <Text size="xs" c="green.8" role="status" truncate title={notice}>
              {notice}
            </Text>
          )}
        </Group>
        <Group gap={4} wrap="nowrap">
          <Tooltip label="Undo (Ctrl+Z)">
            <Button size="xs" variant="default" disabled={state.past.length === 0} onClick={() => dispatch({ kind: "undo" })}>
              Undo
            </Button>
          </Tooltip>
          <Tooltip label="Redo (Ctrl+Shift+Z)">
            <Button size="xs" variant="default" disabled={state.future.length === 0} onClick={() => dispatch({ kind: "redo" })}>
              Redo
            </Button>
          </Tooltip>
          <Button size="xs" variant="default" onClick={() => void relayout()} disabled={!flow}>
            Auto-layout
          </Button>
          <Menu position="bottom-end">
            <Menu.Target>
              <Button size="xs" variant="default">
                Import / export
              </Button>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item onClick={exportFile}>Export as a file</Menu.Item>
              <FileButton onChange={(file) => void importFile(file)} accept="application/json,.json">
                {(props) => <Menu.Item {...props}>Import a file…</Menu.Item>}
              </FileButton>
              <Box p="xs" w={320}>
                <Group gap={4} wrap="nowrap" align="flex-end">
                  <TextInput
                    size="xs"
                    label="Import from a URL (allowed hosts only)"
                    value={importUrl}
                    onChange={(e) => setImportUrl(e.currentTarget.value)}
                    style={{ flex: 1 }}
                  />
                  <Button size="xs" onClick={() => void importUrlNow()} disabled={!importUrl}>
                    Fetch
                  </Button>
                </Group>
              </Box>
            </Menu.Dropdown>
          </Menu>
          {slug && loadedFrom && (
            <Button size="xs" variant="default" component={Link} to={`/plugins/${encodeURIComponent(slug)}/versions`}>
              Versions
            </Button>
          )}
          <Button size="xs" variant={testing ? "filled" : "light"} color="violet" onClick={() => setTesting(!testing)}>
            {testing ? "Close test" : "Test"}
          </Button>
          <Button size="xs" onClick={() => void save()} loading={saving}>
            Save as new version
          </Button>
        </Group>
      </Group>
      {saveError != null && <ErrorAlert error={saveError} title="Not saved" />}
      {otherProblems.length > 0 && (
        <Alert color="red" p={6} title="Problems of the document" role="alert">
          {otherProblems.map((p, i) => {
            const verb = p.place.kind === "flow" ? p.place.verb : null;
            return (
              <Text size="xs" key={i}>
                {verb && state.graph.flows.some((f) => f.verb === verb) ? (
                  <Anchor component="button" size="xs" onClick={() => dispatch({ kind: "tab", tab: verb })}>
                    <code>{p.path}</code>
                  </Anchor>
                ) : (
                  <code>{p.path || "(document)"}</code>
                )}
                : {p.message}
              </Text>
            );
          })}
        </Alert>
      )}
      <Tabs value={state.tab} onChange={(tab) => tab && dispatch({ kind: "tab", tab })} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value={HEADER_TAB} rightSection={headerProblems.size > 0 ? <Badge color="red" size="xs">{headerProblems.size}</Badge> : null}>
            Plugin
          </Tabs.Tab>
          {state.graph.flows.map(({ verb }) => (
            <Tabs.Tab
              key={verb}
              value={verb}
              rightSection={problemsOfTab(verb) > 0 ? <Badge color="red" size="xs">{problemsOfTab(verb)}</Badge> : null}
            >
              {verb}
            </Tabs.Tab>
          ))}
          {missingVerbs.length > 0 && (
            <Menu>
              <Menu.Target>
                <Button size="compact-xs" variant="subtle" ml="xs" mt={6}>
                  + Flow
                </Button>
              </Menu.Target>
              <Menu.Dropdown>
                {missingVerbs.map((v) => (
                  <Menu.Item key={v} onClick={() => dispatch({ kind: "addFlow", verb: v })}>
                    {v}
                  </Menu.Item>
                ))}
              </Menu.Dropdown>
            </Menu>
          )}
        </Tabs.List>
      </Tabs>
      <Group gap={6} align="stretch" wrap="nowrap" style={{ flex: 1, minHeight: 0 }}>
        {state.tab === HEADER_TAB || !flow ? (
          <Paper withBorder p="sm" style={{ flex: 1, overflow: "auto" }} aria-label="Plugin header" role="region">
            <SchemaForm
              root={schema}
              schema={headerSchema(schema)}
              value={header(state.graph)}
              errors={headerProblems}
              onChange={(value) => dispatch({ kind: "setTop", key: "plugin", value })}
            />
          </Paper>
        ) : (
          <>
            <Paper withBorder p={6} w={130} role="region" aria-label="Palette" style={{ overflow: "auto" }}>
              <Text size="xs" fw={700} c="dimmed" mb={4}>
                NODES
              </Text>
              <Stack gap={4}>
                {types
                  .filter((t) => t.type !== "trigger")
                  .map((t) => (
                    <Button
                      key={t.type}
                      size="compact-xs"
                      variant="light"
                      justify="flex-start"
                      draggable
                      onDragStart={(e) => e.dataTransfer.setData(PALETTE_MIME, t.type)}
                      onClick={() => addNode(t)}
                      aria-label={`Add ${t.type} node`}
                      title={t.description.split("\n")[0]}
                    >
                      {t.type}
                    </Button>
                  ))}
              </Stack>
              <Button size="compact-xs" color="red" variant="subtle" mt="md" onClick={() => dispatch({ kind: "removeFlow", verb: state.tab })}>
                Remove this flow
              </Button>
            </Paper>
            <Paper withBorder style={{ flex: 1, minWidth: 0 }}>
              <ReactFlowProvider>
                <Canvas
                  flow={flow}
                  selected={state.selected}
                  portsOf={portsOf}
                  problems={counts}
                  edgeProblems={edgeProblems}
                  trace={traceMarks}
                  fitKey={testing ? 1 : 0}
                  onSelect={(ids) => dispatch({ kind: "select", ids })}
                  onMove={(positions, record) => dispatch({ kind: "moveNodes", positions, record })}
                  onConnect={(from, port, to) => dispatch({ kind: "connect", from, port, to })}
                  onRemoveNodes={(ids) => dispatch({ kind: "removeNodes", ids })}
                  onRemoveEdges={(keys) => dispatch({ kind: "removeEdges", keys })}
                  onDropType={(type, position) => {
                    const found = types.find((t) => t.type === type);
                    if (found) addNode(found, position);
                  }}
                />
              </ReactFlowProvider>
            </Paper>
            <Paper withBorder p="xs" w={320} role="region" aria-label="Properties">
              <ScrollArea h="100%">
                {selectedNode && selectedType ? (
                  <NodeProperties
                    key={`${state.tab}:${selectedNode.node.id}`}
                    schema={schema}
                    type={selectedType}
                    node={selectedNode.node}
                    flowNodes={flow.nodes.map((n) => n.node.id)}
                    wires={drawnEdges(flow).filter((e) => e.from === selectedNode.node.id)}
                    errors={nodeProblems(located, state.tab, selectedNode.node.id)}
                    onChange={(node) => dispatch({ kind: "updateNode", id: selectedNode.node.id, node })}
                    onWire={(port, to) => {
                      if (to) dispatch({ kind: "connect", from: selectedNode.node.id, port, to });
                      else {
                        const wire = drawnEdges(flow).find((e) => e.from === selectedNode.node.id && e.port === port);
                        if (wire) dispatch({ kind: "removeEdges", keys: [wire.key] });
                      }
                    }}
                    onRemove={() => dispatch({ kind: "removeNodes", ids: [selectedNode.node.id] })}
                  />
                ) : (
                  <Text size="sm" c="dimmed">
                    Select a node to edit it. Add nodes from the palette (click, or drag onto the canvas); wire a port by
                    dragging from it to another node. Ctrl+Z / Ctrl+Shift+Z undo and redo, Ctrl+C / Ctrl+V copy and paste,
                    Delete removes.
                  </Text>
                )}
              </ScrollArea>
            </Paper>
          </>
        )}
      </Group>
      {testing && (
        <Paper withBorder mah="48%" style={{ overflow: "auto", flexShrink: 0 }}>
          <TestPanel
            document={() => toDocument(graphRef.current)}
            verbs={state.graph.flows.map((f) => f.verb)}
            verb={state.tab}
            onTrace={followTrace}
          />
        </Paper>
      )}
    </Stack>
  );
}

const KEEP = { flexShrink: 0 } as const;

function ValidationBadge({ validation, checking }: { validation: Validation | null; checking: boolean }) {
  if (checking || !validation) return <Badge color="gray" variant="light" style={KEEP}>checking…</Badge>;
  if (validation.failure) {
    return (
      <Badge color="orange" variant="light" title={validation.failure} style={KEEP}>
        not checked
      </Badge>
    );
  }
  if (validation.problems.length > 0) {
    return (
      <Badge color="red" aria-label="Validation" style={KEEP}>
        {validation.problems.length} {validation.problems.length === 1 ? "problem" : "problems"}
      </Badge>
    );
  }
  return (
    <Badge color="green" aria-label="Validation" style={KEEP} title={validation.warnings.map((w) => `${w.path}: ${w.message}`).join("\n")}>
      valid{validation.warnings.length > 0 ? ` · ${validation.warnings.length} warnings` : ""}
    </Badge>
  );
}

function NodeProperties({
  schema,
  type,
  node,
  flowNodes,
  wires,
  errors,
  onChange,
  onWire,
  onRemove,
}: {
  schema: JsonSchema;
  type: NodeType;
  node: NodeObject;
  flowNodes: string[];
  wires: { port: string; to: string; implicit: boolean }[];
  errors: Map<string, string[]>;
  onChange: (node: NodeObject) => void;
  onWire: (port: string, to: string | null) => void;
  onRemove: () => void;
}) {
  const whole = errors.get("");
  return (
    <Stack gap="xs" aria-label={`Properties of ${node.id}`}>
      <Group justify="space-between">
        <Text fw={700}>
          {node.id} <Badge variant="light">{node.type}</Badge>
        </Text>
        {node.type !== "trigger" && (
          <ActionIcon variant="subtle" color="red" aria-label="Remove node" onClick={onRemove}>
            ×
          </ActionIcon>
        )}
      </Group>
      {whole && (
        <Alert color="red" p={6} role="alert">
          {whole.map((m, i) => (
            <Text size="xs" key={i}>
              {m}
            </Text>
          ))}
        </Alert>
      )}
      {type.ports.length > 0 && (
        <Stack gap={4} role="group" aria-label="Wires">
          <Text size="xs" fw={700} c="dimmed">
            WIRES
          </Text>
          {type.ports.map((port) => {
            const wire = wires.find((w) => w.port === port);
            return (
              <Select
                key={port}
                size="xs"
                label={`port ${port} →`}
                data={flowNodes.filter((id) => id !== node.id)}
                value={wire?.to ?? null}
                clearable
                placeholder="not wired"
                onChange={(to) => onWire(port, to)}
              />
            );
          })}
        </Stack>
      )}
      <Text size="xs" fw={700} c="dimmed">
        PARAMETERS
      </Text>
      <SchemaForm
        root={schema}
        schema={type.schema}
        value={node}
        errors={errors}
        skip={["type"]}
        onChange={(value) => onChange(value as NodeObject)}
      />
    </Stack>
  );
}
