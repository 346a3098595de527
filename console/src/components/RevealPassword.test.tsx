import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../test/fetch";
import { renderAt } from "../test/render";
import { RevealPassword } from "./RevealPassword";

afterEach(() => vi.unstubAllGlobals());

describe("revealing a root password", () => {
  it("asks first, then shows what the API answered", async () => {
    const calls = fakeFetch(() => json({ service_id: 5, password: "Xy7-secret" }));
    renderAt(<RevealPassword serviceId={5} />);
    await userEvent.click(screen.getByRole("button", { name: "Reveal root password" }));
    expect(calls).toHaveLength(0);
    const dialog = await screen.findByRole("dialog");
    expect(dialog).toHaveTextContent("audited");
    await userEvent.click(within(dialog).getByRole("button", { name: "Reveal root password" }));
    expect(await screen.findByLabelText("Root password")).toHaveTextContent("Xy7-secret");
    expect(calls[0]?.url).toMatch(/\/api\/v1\/services\/5\/password\/reveal$/);
  });

  it("shows the refusal", async () => {
    fakeFetch(() => apiError(403, "HTTPError", "this needs the operator role"));
    renderAt(<RevealPassword serviceId={5} />);
    await userEvent.click(screen.getByRole("button", { name: "Reveal root password" }));
    await userEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Reveal root password" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("this needs the operator role");
  });
});
