import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

afterEach(() => cleanup());

// jsdom lacks what Mantine measures with.
Object.defineProperty(window, "matchMedia", {
  writable: true,
  value: (query: string) => ({
    matches: false,
    media: query,
    onchange: null,
    addListener: () => {},
    removeListener: () => {},
    addEventListener: () => {},
    removeEventListener: () => {},
    dispatchEvent: () => false,
  }),
});
class NoResizeObserver {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
}
window.ResizeObserver = NoResizeObserver;

// jsdom has no EventSource: the shell's live updates connect to nothing in unit tests.
class QuietEventSource {
  addEventListener(): void {}
  close(): void {}
}
if (!("EventSource" in window)) {
  Object.defineProperty(window, "EventSource", { writable: true, configurable: true, value: QuietEventSource });
}

// jsdom lays nothing out: a combobox's dropdown scrolls its selected option into view.
Element.prototype.scrollIntoView = function scrollIntoView() {};

// jsdom has no font loading: an autosized textarea (the builder's JSON inputs) listens to it.
if (!("fonts" in document)) {
  Object.defineProperty(document, "fonts", {
    configurable: true,
    value: { addEventListener: () => {}, removeEventListener: () => {} },
  });
}
