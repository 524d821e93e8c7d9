// Magasin de certificats: list and details, install a .p12 (password checked first), export with the policy and
// the strength meter, install a CA, remove with confirmation.

import { call } from "../api";
import type { CertSummary, PasswordPolicy } from "../bindings";
import { h, field } from "../dom";
import { t } from "../i18n";
import { confirmDialog, errorBox, expiry, passwordMeter, section, soonBox, withProgress, withReplaceConfirm } from "../widgets";
import { pickSave } from "../files";
import { fileField, p12ImportForm } from "../p12import";

/** The revocation code kept for a certificate (IGC-Santé): whether one is kept, shown on request after a
 * confirmation, or kept now. */
export function revocationCode(c: CertSummary): { el: HTMLElement; load: () => Promise<void> } {
  const box = h("div", { class: "revocation", "data-testid": "revocation-code" });
  const draw = async () => {
    const kept = await call("revocation_code_kept", { sha256: c.sha256 }).catch(() => null);
    if (kept === null) {
      box.replaceChildren();
      return;
    }
    if (kept) {
      const show = h("button", { type: "button" }, t("rc.show"));
      const out = h("output", { class: "mono" });
      show.addEventListener("click", async () => {
        if (!(await confirmDialog(t("rc.confirmShow", { name: c.holder })))) return;
        const code = await call("revocation_code_reveal", { sha256: c.sha256 }).catch(() => null);
        out.textContent = code ?? "";
      });
      box.replaceChildren(h("p", {}, t("rc.kept")), show, out);
    } else {
      const input = h("input", { type: "password", autocomplete: "off", name: "revocation-code" });
      const keep = h("button", { type: "button" }, t("rc.keep"));
      const status = h("div", { "aria-live": "polite" });
      keep.addEventListener("click", async () => {
        const r = await withProgress(status, () => call("revocation_code_keep", { sha256: c.sha256, code: input.value }));
        input.value = "";
        if (r) await draw();
      });
      box.replaceChildren(h("p", {}, t("rc.none")), field(t("rc.label"), input), keep, status);
    }
  };
  return { el: box, load: draw };
}

function certTable(certs: CertSummary[], reload: () => void): HTMLElement {
  if (certs.length === 0) return h("p", {}, t("store.empty"));
  const rows = certs.map((c) => {
    const details = h(
      "details",
      {},
      h("summary", {}, t("common.details")),
      h(
        "dl",
        {},
        h("dt", {}, t("cert.subject")),
        h("dd", { class: "mono" }, c.subject),
        h("dt", {}, t("store.issuer")),
        h("dd", { class: "mono" }, c.issuer),
        h("dt", {}, t("cert.serial")),
        h("dd", { class: "mono" }, c.serial),
        h("dt", {}, "SHA-256"),
        h("dd", { class: "mono" }, c.sha256),
        h("dt", {}, t("cert.keyUsage")),
        h("dd", {}, c.key_usage.join(", ") || "—"),
      ),
    );
    // read from the keyring only when the details are opened (one keyring call per certificate otherwise)
    const rc = revocationCode(c);
    details.appendChild(rc.el);
    let loaded = false;
    details.addEventListener("toggle", () => {
      if (details.open && !loaded) {
        loaded = true;
        void rc.load();
      }
    });
    const status = h("div", { "aria-live": "polite" });
    const remove = h("button", { type: "button", class: "danger", "aria-label": `${t("common.remove")} : ${c.holder}` }, t("common.remove"));
    remove.addEventListener("click", async () => {
      if (!(await confirmDialog(t("store.confirmRemove", { name: c.holder })))) return;
      // a revocation code kept for it outlives the certificate unless the user says otherwise
      const kept = await call("revocation_code_kept", { sha256: c.sha256 }).catch(() => false);
      const forget = kept ? await confirmDialog(t("rc.forgetOnRemove")) : false;
      if ((await withProgress(status, () => call("store_remove", { sha256: c.sha256, forget_revocation_code: forget }))) !== undefined) reload();
    });
    return h(
      "tr",
      { "data-sha256": c.sha256 },
      h("th", { scope: "row" }, c.holder, details),
      h("td", {}, c.issuer_name),
      h("td", {}, expiry(c.not_after, c.days_left)),
      h("td", {}, c.has_private_key ? t("store.yes") : t("store.no")),
      h("td", {}, remove, status),
    );
  });
  return h(
    "table",
    {},
    h("caption", { class: "sr-only" }, t("store.list")),
    h("thead", {}, h("tr", {}, ...[t("store.holder"), t("store.issuer"), t("store.expires"), t("store.key"), t("common.remove")].map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, ...rows),
  );
}

function importForm(enabled: boolean, reload: () => void): HTMLElement {
  return section(t("store.import"), p12ImportForm({ name: "p12", testid: "import-status", enabled, help: t("store.importHelp"), onInstalled: reload }));
}

function exportForm(enabled: boolean, certs: CertSummary[]): HTMLElement {
  const withKey = certs.filter((c) => c.has_private_key);
  const which = h("select", { name: "export-cert" }, ...withKey.map((c) => h("option", { value: c.sha256 }, `${c.holder} (${c.issuer_name})`)));
  const dest = h("select", { name: "export-dest" }, h("option", { value: "modern" }, t("store.exportModern")), h("option", { value: "legacy" }, t("store.exportLegacy")));
  const policy = h("select", { name: "export-policy" }, h("option", { value: "igc-sante" }, "IGC-Santé (12+)"), h("option", { value: "tcs" }, "TCS (8+)"));
  const meter = passwordMeter(() => policy.value as PasswordPolicy);
  policy.addEventListener("change", () => meter.input.dispatchEvent(new Event("input")));
  const out = h("input", { type: "text", name: "export-path", autocomplete: "off", spellcheck: "false" });
  const choose = h("button", { type: "button" }, t("common.choose"));
  choose.addEventListener("click", async () => {
    const p = await pickSave("certificat.p12", [{ name: "PKCS#12", extensions: ["p12"] }]);
    if (p) out.value = p;
  });
  const status = h("div", { "aria-live": "polite", "data-testid": "export-status" });
  const submit = h("button", { type: "submit", class: "primary", disabled: !enabled || withKey.length === 0 }, t("store.exportBtn"));
  const form = h(
    "form",
    {},
    field(t("store.exportWhich"), which),
    field(t("store.exportFor"), dest),
    field(t("store.policy"), policy),
    meter.el,
    field(t("store.exportPath"), out),
    choose,
    h("div", {}, submit),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const path = out.value.trim();
    const r = await withReplaceConfirm(status, path, (force) =>
      call("store_export", { sha256: which.value, path, password: meter.input.value, policy: policy.value as PasswordPolicy, legacy: dest.value === "legacy", force }),
    );
    if (r) status.replaceChildren(h("p", { class: "ok", role: "status" }, t("store.exported", { path: r.store })));
  });
  return section(t("store.export"), enabled ? null : soonBox(t("store.export")), form);
}

function caForm(enabled: boolean, reload: () => void): HTMLElement {
  const file = fileField(t("common.file"), [{ name: t("files.certificates"), extensions: ["cer", "crt", "pem", "der", "p7b"] }], "ca-path");
  const status = h("div", { "aria-live": "polite", "data-testid": "ca-status" });
  const form = h("form", {}, file.el, h("button", { type: "submit", class: "primary", disabled: !enabled }, t("store.caBtn")), status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await withProgress(status, () => call("ca_install", { path: file.input.value.trim() }));
    if (r) {
      status.replaceChildren(h("p", { class: "ok", role: "status" }, r.already_present ? t("store.already") : t("store.installed", { n: r.installed })));
      reload();
    }
  });
  return section(t("store.ca"), enabled ? null : soonBox(t("store.ca")), form);
}

export async function storePage(): Promise<HTMLElement> {
  const caps = await call("capabilities", null).catch(() => null);
  const list = section(t("store.list"));
  let exportSec: HTMLElement = h("div", {});
  // After an import, a removal or a CA installation only the list and the export choices are redrawn, so the
  // form keeps its confirmation message.
  const draw = async () => {
    let certs: CertSummary[] = [];
    const body: HTMLElement[] = [];
    if (!caps?.store) body.push(soonBox(t("store.list")));
    else {
      try {
        certs = await call("store_list", null);
        body.push(certTable(certs, () => void draw()));
      } catch (e) {
        body.push(errorBox(e));
      }
    }
    list.replaceChildren(list.firstChild as Node, ...body);
    const next = exportForm(!!caps?.store, certs);
    exportSec.replaceWith(next);
    exportSec = next;
  };
  const root = h(
    "div",
    {},
    list,
    importForm(!!caps?.pkcs12 && !!caps?.store, () => void draw()),
    exportSec,
    caForm(!!caps?.store, () => void draw()),
  );
  await draw();
  return root;
}
