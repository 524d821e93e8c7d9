import { beforeEach, describe, expect, it } from "vitest";
import { setInvoke } from "../src/api";
import { setLang } from "../src/i18n";
import { pinForm } from "../src/pages/cards";

const row = (label: string, pin_state: string, pin_message: string) => ({
  label,
  manufacturer: "SoftHSM",
  model: "SoftHSM v2",
  serial: "1",
  slot: "slot",
  module: "/usr/lib/softhsm/libsofthsm2.so",
  pin_state,
  pin_message,
  removable: false,
  pin_pad: false,
});

beforeEach(() => {
  setLang("fr");
  document.body.replaceChildren();
});

describe("card PIN form", () => {
  it("shows the retries left, asks for the final-try tick, and sends the core's command with both entries", async () => {
    const calls: [string, unknown][] = [];
    setInvoke(async (cmd: string, args: unknown) => {
      calls.push([cmd, args]);
      return row("Carte", "ok", "PIN correct");
    });
    const form = pinForm({ tokens: [row("Carte", "final_try", "Dernier essai avant blocage.")], problems: [], probing: false }, () => {});
    document.body.append(form);
    expect(form.querySelector("[data-testid=pin-state]")?.textContent).toBe("Carte — Dernier essai avant blocage.");
    const finalRow = form.querySelector("input[name=pin-final-ok]")?.closest("label") as HTMLElement;
    expect(finalRow.hidden).toBe(false);
    (form.querySelector("input[name=pin-current]") as HTMLInputElement).value = "1234";
    (form.querySelector("input[name=pin-new]") as HTMLInputElement).value = "5678";
    (form.querySelector("input[name=pin-confirm]") as HTMLInputElement).value = "5678";
    form.dispatchEvent(new Event("submit"));
    await new Promise((r) => setTimeout(r, 0));
    expect(calls[0][0]).toBe("token_pin_change");
    expect((calls[0][1] as { req: Record<string, unknown> }).req).toMatchObject({ token: "Carte", current: "1234", new_pin: "5678", confirm: "5678", final_try_ok: false });
    // the secrets are cleared from the form once sent
    expect((form.querySelector("input[name=pin-current]") as HTMLInputElement).value).toBe("");
    // unblocking: the first field is the unblocking code, and the final-try tick is not asked
    const mode = form.querySelector("select[name=pin-mode]") as HTMLSelectElement;
    mode.value = "unblock";
    mode.dispatchEvent(new Event("change"));
    expect(finalRow.hidden).toBe(true);
    expect(form.textContent).toContain("Code de déblocage (PUK)");
  });

  it("on a reader with a keypad, asks for nothing in the window and sends empty codes (the reader asks)", async () => {
    const calls: [string, unknown][] = [];
    setInvoke(async (cmd: string, args: unknown) => {
      calls.push([cmd, args]);
      return { ...row("Pad", "ok", "PIN correct"), pin_pad: true };
    });
    const form = pinForm({ tokens: [row("Carte", "ok", "ok"), { ...row("Pad", "ok", "ok"), pin_pad: true }], problems: [], probing: false }, () => {});
    document.body.append(form);
    const pad = form.querySelector("[data-testid=pin-pad]") as HTMLElement;
    const current = form.querySelector("input[name=pin-current]") as HTMLInputElement;
    expect(pad.hidden).toBe(true);
    const token = form.querySelector("select[name=pin-token]") as HTMLSelectElement;
    token.value = "Pad";
    token.dispatchEvent(new Event("change"));
    expect(pad.hidden).toBe(false);
    expect(pad.textContent).toContain("clavier");
    expect((current.closest("div") as HTMLElement).hidden).toBe(true);
    form.dispatchEvent(new Event("submit"));
    await new Promise((r) => setTimeout(r, 0));
    expect((calls[0][1] as { req: Record<string, unknown> }).req).toMatchObject({ token: "Pad", current: "", new_pin: "", confirm: "" });
  });
});
