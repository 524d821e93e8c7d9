// Ouvrir un pli: an encrypted envelope (a bid) is examined without any PIN — which recipients it names and which of
// them this workstation holds (store, card present, card absent) — then opened into a chosen folder with the key
// where it lives; the card's PIN is asked only when the key is on a card. The core decides everything
// (`envelope_inspect`, `envelope_open`); this page only shows it.

import { call, inTauri } from "../api";
import type { EnvelopeRecipient, EnvelopeView } from "../bindings";
import { h, field, uid } from "../dom";
import { t } from "../i18n";
import { errorBox, section, withProgress } from "../widgets";
import { pickFile } from "../files";

async function pickFolder(): Promise<string | null> {
  if (!inTauri()) return null;
  const { open } = await import("@tauri-apps/plugin-dialog");
  const r = await open({ multiple: false, directory: true });
  return typeof r === "string" ? r : null;
}

function recipientName(r: EnvelopeRecipient): string {
  if (r.issuer && r.serial) {
    const cn =
      r.issuer
        .split(",")
        .map((p) => p.trim())
        .find((p) => p.startsWith("CN="))
        ?.slice(3) ?? r.issuer;
    return `${cn} — n° ${r.serial}`;
  }
  if (r.ski) return `SKI ${r.ski}`;
  return r.unsupported ?? "?";
}

function whereText(r: EnvelopeRecipient): string {
  if (r.key_transport === null) return t("env.unsupported").replace("{what}", r.unsupported ?? "");
  if (r.reachable === "store") return t("env.inStore").replace("{holder}", r.holder ?? "");
  if (r.reachable === "token")
    return t("env.onCard")
      .replace("{card}", r.token ?? "")
      .replace("{holder}", r.holder ?? "");
  return t("env.absent");
}

export async function envelopePage(): Promise<HTMLElement> {
  const file = h("input", { type: "text", name: "envelope-path", autocomplete: "off", spellcheck: "false" });
  const choose = h("button", { type: "button" }, t("common.choose"));
  choose.addEventListener("click", async () => {
    const p = await pickFile([{ name: t("env.files"), extensions: ["p7m", "p7e", "cms", "pem", "der"] }]);
    if (p) {
      file.value = p;
      await examine();
    }
  });
  const examineBtn = h("button", { type: "button", name: "envelope-examine" }, t("env.examine"));
  const details = h("div", { "data-testid": "envelope-details", "aria-live": "polite" });
  const out = h("input", { type: "text", name: "envelope-out", autocomplete: "off", spellcheck: "false" });
  const chooseOut = h("button", { type: "button" }, t("env.chooseFolder"));
  chooseOut.addEventListener("click", async () => {
    const p = await pickFolder();
    if (p) out.value = p;
  });
  const pinId = uid("pin");
  const pin = h("input", { type: "password", id: pinId, autocomplete: "off", name: "envelope-pin" });
  const pinField = field(t("env.pin"), pin);
  pinField.hidden = true;
  const force = h("input", { type: "checkbox", name: "envelope-force" });
  const status = h("div", { "aria-live": "polite", "data-testid": "envelope-status" });
  let view: EnvelopeView | null = null;

  async function examine(): Promise<void> {
    const path = file.value.trim();
    if (!path) return;
    view = (await withProgress(details, () => call("envelope_inspect", { path }))) ?? null;
    if (!view) return;
    const v = view;
    pinField.hidden = !v.recipients.some((r) => r.reachable === "token") || v.recipients.some((r) => r.reachable === "store");
    details.replaceChildren(
      h("p", {}, t("env.summary").replace("{cipher}", v.content_cipher).replace("{n}", String(v.recipients.length))),
      h(
        "ul",
        { class: "plain" },
        ...v.recipients.map((r) => h("li", {}, h("strong", {}, recipientName(r)), h("br", {}), h("span", { class: r.reachable === "absent" ? "soon-exp" : "" }, whereText(r)))),
      ),
      v.can_open ? h("p", { class: "ok" }, t("env.canOpen")) : h("p", { class: "error", role: "alert" }, t("env.cannotOpen")),
    );
  }
  examineBtn.addEventListener("click", () => void examine());

  const form = h(
    "form",
    {},
    h("p", { class: "help" }, t("env.help")),
    field(t("common.file"), file),
    choose,
    examineBtn,
    details,
    field(t("env.outFolder"), out),
    chooseOut,
    pinField,
    h("label", {}, force, ` ${t("env.force")}`),
    h("div", {}, h("button", { type: "submit", class: "primary" }, t("env.open"))),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const req = { path: file.value.trim(), out: out.value.trim(), force: force.checked, pin: pin.value ? pin.value : null };
    const stop = await followProgress(status, "envelope_open");
    const r = await withProgress(status, () => call("envelope_open", req)).finally(stop);
    pin.value = "";
    if (r) status.replaceChildren(h("p", { class: "ok", role: "status" }, t("env.opened").replace("{out}", r.out)));
  });

  // Drag and drop of an envelope onto the window (Tauri gives the dropped file's path).
  if (inTauri()) {
    try {
      const { getCurrentWebview } = await import("@tauri-apps/api/webview");
      const unlisten = await getCurrentWebview().onDragDropEvent((ev) => {
        if (!document.body.contains(form)) {
          unlisten();
          return;
        }
        if (ev.payload.type === "drop" && ev.payload.paths.length > 0) {
          file.value = ev.payload.paths[0];
          void examine();
        }
      });
    } catch {
      /* drag and drop is a convenience: the file picker stays */
    }
  }
  try {
    return h("div", {}, section(t("env.title"), form));
  } catch (e) {
    return errorBox(e);
  }
}

/** What the core reports while it works (`src/progress.rs`, forwarded by the desktop app as `progress` events). */
export interface Progress {
  operation: string;
  done: number;
  total: number;
}

/** A progress bar under `status` for `operation`, fed by its `progress` events; returns the function that stops it. */
export async function followProgress(status: HTMLElement, operation: string): Promise<() => void> {
  const bar = h("progress", { max: "100", value: "0", "data-testid": "progress" }) as HTMLProgressElement;
  const label = h("span", { class: "percent" }, "0 %");
  const box = h("p", { class: "progress-bar" }, bar, " ", label);
  const show = (p: Progress) => {
    if (p.operation !== operation || p.total <= 0) return;
    const percent = Math.min(100, Math.floor((p.done * 100) / p.total));
    bar.value = percent;
    label.textContent = `${percent} %`;
    if (!box.isConnected) status.append(box);
  };
  if (!inTauri()) return () => box.remove();
  try {
    const { listen } = await import("@tauri-apps/api/event");
    const unlisten = await listen<Progress>("progress", (e) => show(e.payload));
    return () => {
      unlisten();
      box.remove();
    };
  } catch {
    return () => box.remove();
  }
}
