import { MantineProvider } from "@mantine/core";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ConfirmButton } from "./ConfirmButton";

function setUp() {
  const act = vi.fn();
  render(
    <MantineProvider>
      <ConfirmButton label="Cancel run" question="Cancel run 9?" onConfirm={act} />
    </MantineProvider>,
  );
  return act;
}

describe("ConfirmButton", () => {
  it("asks first, and acts only on confirmation", async () => {
    const act = setUp();
    await userEvent.click(screen.getByRole("button", { name: "Cancel run" }));
    expect(await screen.findByText("Cancel run 9?")).toBeInTheDocument();
    expect(act).not.toHaveBeenCalled();
    const dialog = screen.getByRole("dialog");
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel run" }));
    expect(act).toHaveBeenCalledOnce();
  });

  it("does nothing when the operator keeps things as they are", async () => {
    const act = setUp();
    await userEvent.click(screen.getByRole("button", { name: "Cancel run" }));
    await userEvent.click(await screen.findByRole("button", { name: "Keep as is" }));
    expect(act).not.toHaveBeenCalled();
  });
});
