// Installing a .p12 the user received (eSanté myCert, a colleague's export…), shared by the Magasin page and the
// Certificats en attente page: file picker, password, the password checked by opening the file (core
// `p12_inspect`) before anything changes, then the installation (core `p12_import`) and the list of what it held.

import { call } from "./api";
import type { CertSummary, InstallResult } from "./bindings";
import { h, field } from "./dom";
import { t } from "./i18n";
import { pickFile } from "./files";
import { expiry, soonBox, withProgress } from "./widgets";

/** A text field for a path with a "Choisir un fichier…" button (native picker) under it. */
export function fileField(label: string, filters: { name: string; extensions: string[] }[], name: string): { el: HTMLElement; input: HTMLInputElement } {
  const input = h("input", { type: "text", name, autocomplete: "off", spellcheck: "false" });
  const choose = h("button", { type: "button" }, t("common.choose"));
  choose.addEventListener("click", async () => {
    const p = await pickFile(filters);
    if (p) input.value = p;
  });
  const el = field(label, input);
  el.appendChild(h("div", {}, choose));
  return { el, input };
}

export interface P12FormOptions {
  /** Prefix of the controls' names: `${name}-path`, `${name}-password`. */
  name: string;
  /** data-testid of the status region (progress, error, result). */
  testid: string;
  /** False when this build cannot read .p12 files or reach the store: the form says "bientôt disponible". */
  enabled: boolean;
  help: string;
  /** Called after something was installed (e.g. to redraw a list). */
  onInstalled?: () => void;
}

/** What was installed: one line per certificate of the file (holder, issuer, expiry, with its private key). */
export function installedList(r: InstallResult, certs: CertSummary[]): HTMLElement {
  return h(
    "div",
    { class: "ok-box", role: "status" },
    h("p", { class: "ok" }, r.already_present ? t("store.already") : t("store.installed", { n: r.installed })),
    certs.length
      ? h(
          "ul",
          { class: "plain", "aria-label": t("p12.contents") },
          ...certs.map((c) =>
            h("li", {}, h("strong", {}, c.holder), ` — ${c.issuer_name} — `, expiry(c.not_after, c.days_left), c.has_private_key ? ` — ${t("p12.withKey")}` : ""),
          ),
        )
      : null,
  );
}

/** The .p12 installation form. A wrong password or a damaged file shows the core's sentence and changes nothing. */
export function p12ImportForm(o: P12FormOptions): HTMLElement {
  const file = fileField(t("common.file"), [{ name: "PKCS#12 (.p12, .pfx)", extensions: ["p12", "pfx"] }], `${o.name}-path`);
  const pw = h("input", { type: "password", autocomplete: "current-password", name: `${o.name}-password` });
  const status = h("div", { "aria-live": "polite", "data-testid": o.testid });
  const submit = h("button", { type: "submit", class: "primary", disabled: !o.enabled }, t("store.importBtn"));
  const form = h("form", {}, h("p", { class: "help" }, o.help), file.el, field(t("common.password"), pw), h("div", {}, submit), status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const req = () => ({ path: file.input.value.trim(), password: pw.value });
    submit.disabled = true;
    const done = await withProgress(status, async () => {
      // Opening the file checks the password and the content; only then does anything change.
      const contents = await call("p12_inspect", req());
      const installed = await call("p12_import", req());
      return { contents, installed };
    });
    submit.disabled = false;
    pw.value = "";
    if (done) {
      status.replaceChildren(installedList(done.installed, done.contents.certificates));
      o.onInstalled?.();
    }
  });
  return h("div", {}, o.enabled ? null : soonBox(t("store.import")), form);
}
