import { afterEach, describe, expect, it, vi } from "vitest";

// The desktop app forwards the core's progress reports as `progress` events: captured here.
let handler: ((e: { payload: unknown }) => void) | null = null;
const unlisten = vi.fn();
vi.mock("@tauri-apps/api/event", () => ({
  listen: async (name: string, f: (e: { payload: unknown }) => void) => {
    if (name === "progress") handler = f;
    return unlisten;
  },
}));

import { followProgress } from "../src/pages/envelope";

afterEach(() => {
  delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__;
  handler = null;
});

describe("progress bar of a long operation", () => {
  it("follows its own operation's reports only, and is removed when stopped", async () => {
    (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__ = {};
    const status = document.createElement("div");
    const stop = await followProgress(status, "envelope_open");
    expect(handler).not.toBeNull();
    handler?.({ payload: { operation: "other", done: 5, total: 10 } });
    expect(status.querySelector("progress")).toBeNull();
    handler?.({ payload: { operation: "envelope_open", done: 50_000_000, total: 200_000_000 } });
    const bar = status.querySelector("progress") as HTMLProgressElement;
    expect(bar.value).toBe(25);
    expect(status.textContent).toContain("25 %");
    handler?.({ payload: { operation: "envelope_open", done: 200_000_000, total: 200_000_000 } });
    expect(bar.value).toBe(100);
    stop();
    expect(unlisten).toHaveBeenCalled();
    expect(status.querySelector("progress")).toBeNull();
  });

  it("outside the desktop app there is nothing to follow", async () => {
    const status = document.createElement("div");
    const stop = await followProgress(status, "envelope_open");
    expect(handler).toBeNull();
    stop();
  });
});
