import { describe, expect, it } from "vitest";
import { emptyDocument, fromDocument, toDocument } from "./document";
import { type BuilderAction, type BuilderState, builderReducer, initialState } from "./store";

function run(actions: BuilderAction[], start?: BuilderState): BuilderState {
  return actions.reduce(builderReducer, start ?? initialState(fromDocument(emptyDocument("acme"))));
}

const http = { id: "create", type: "http", path: "servers" };

describe("builder store", () => {
  it("adds a node and wires the trigger to it by id", () => {
    const state = run([
      { kind: "addNode", node: http, position: { x: 0, y: 0 } },
      { kind: "connect", from: "start", port: "ok", to: "create" },
    ]);
    const flow = (toDocument(state.graph).flows as Record<string, { edges: unknown[] }>).provision;
    expect(flow?.edges).toEqual([{ from: "start", to: "create" }]);
  });

  it("undoes and redoes each change in order", () => {
    const state = run([
      { kind: "addNode", node: http, position: { x: 0, y: 0 } },
      { kind: "connect", from: "start", port: "ok", to: "create" },
    ]);
    const once = builderReducer(state, { kind: "undo" });
    expect(once.graph.flows[0]!.flow.edges).toEqual([]);
    const twice = builderReducer(once, { kind: "undo" });
    expect(twice.graph.flows[0]!.flow.nodes.map((n) => n.node.id)).toEqual(["start"]);
    expect(builderReducer(twice, { kind: "undo" })).toBe(twice);
    const again = builderReducer(builderReducer(twice, { kind: "redo" }), { kind: "redo" });
    expect(toDocument(again.graph)).toEqual(toDocument(state.graph));
  });

  it("a new change after an undo drops the redo history", () => {
    const state = run([
      { kind: "addNode", node: http, position: { x: 0, y: 0 } },
      { kind: "undo" },
      { kind: "addNode", node: { id: "other", type: "done" }, position: { x: 0, y: 0 } },
    ]);
    expect(state.future).toEqual([]);
    expect(builderReducer(state, { kind: "redo" })).toBe(state);
  });

  it("renaming a node rewires its edges", () => {
    const state = run([
      { kind: "addNode", node: http, position: { x: 0, y: 0 } },
      { kind: "connect", from: "start", port: "ok", to: "create" },
      { kind: "updateNode", id: "create", node: { ...http, id: "make" } },
    ]);
    expect(state.graph.flows[0]!.flow.edges?.map((e) => e.edge)).toEqual([{ from: "start", to: "make" }]);
  });

  it("wires each port once: a second wire from a port replaces the first", () => {
    const state = run([
      { kind: "addNode", node: http, position: { x: 0, y: 0 } },
      { kind: "addNode", node: { id: "stop", type: "done" }, position: { x: 0, y: 0 } },
      { kind: "connect", from: "start", port: "ok", to: "create" },
      { kind: "connect", from: "start", port: "ok", to: "stop" },
      { kind: "connect", from: "create", port: "error", to: "stop" },
    ]);
    // The first wire made the list order explicit (create -> stop), the second replaced start's.
    expect(state.graph.flows[0]!.flow.edges?.map((e) => e.edge)).toEqual([
      { from: "create", to: "stop" },
      { from: "start", to: "stop" },
      { from: "create", port: "error", to: "stop" },
    ]);
  });

  it("copies and pastes nodes under fresh ids, with the wires between them", () => {
    const state = run([
      { kind: "addNode", node: http, position: { x: 0, y: 0 } },
      { kind: "addNode", node: { id: "stop", type: "done" }, position: { x: 0, y: 0 } },
      { kind: "connect", from: "create", port: "ok", to: "stop" },
      { kind: "select", ids: ["start", "create", "stop"] },
      { kind: "copy" },
      { kind: "paste" },
    ]);
    const flow = state.graph.flows[0]!.flow;
    expect(flow.nodes.map((n) => n.node.id)).toEqual(["start", "create", "stop", "create_2", "stop_2"]);
    expect(flow.edges?.map((e) => e.edge)).toContainEqual({ from: "create_2", to: "stop_2" });
    expect(state.selected).toEqual(["create_2", "stop_2"]);
    const undone = builderReducer(state, { kind: "undo" });
    expect(undone.graph.flows[0]!.flow.nodes).toHaveLength(3);
  });

  it("removing a node removes its wires; a wire added to a list-order flow makes its order explicit", () => {
    const listOrder = fromDocument({
      format: "fluxbilling-visual-plugin",
      plugin: {},
      flows: {
        suspend: {
          nodes: [
            { id: "start", type: "trigger" },
            { id: "a", type: "http", path: "a" },
            { id: "b", type: "done" },
          ],
        },
      },
    });
    const wired = run([{ kind: "connect", from: "a", port: "error", to: "b" }], initialState(listOrder));
    expect(wired.graph.flows[0]!.flow.edges?.map((e) => e.edge)).toEqual([
      { from: "start", to: "a" },
      { from: "a", to: "b" },
      { from: "a", port: "error", to: "b" },
    ]);
    const removed = builderReducer(wired, { kind: "removeNodes", ids: ["a"] });
    expect(removed.graph.flows[0]!.flow.edges).toEqual([]);
  });

  it("moving while dragging is not history; dropping is", () => {
    const base = run([{ kind: "moveNodes", positions: { start: { x: 5, y: 5 } }, record: false }]);
    expect(base.past).toHaveLength(0);
    const dropped = builderReducer(base, { kind: "moveNodes", positions: { start: { x: 9, y: 9 } }, record: true });
    expect(dropped.past).toHaveLength(1);
  });
});
