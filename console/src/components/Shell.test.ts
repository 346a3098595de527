import { describe, expect, it } from "vitest";
import { activeItem } from "./Shell";

describe("the navigation entry of a page", () => {
  it("is the most specific entry the path is under", () => {
    expect(activeItem("/plugins/new/edit")).toBe("/plugins/new/edit");
    expect(activeItem("/plugins/solusvm2/edit")).toBe("/plugins");
    expect(activeItem("/plugins")).toBe("/plugins");
    expect(activeItem("/orders/42")).toBe("/orders");
    expect(activeItem("/nowhere")).toBeUndefined();
  });
});
