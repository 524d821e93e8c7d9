// Certificats en attente: requests waiting for their certificate, with their withdrawal deadline; installing the
// withdrawn certificate (.p7b/.cer, reunited with the private key kept in the vault), or a .p12 the user received
// with its password (eSanté myCert, IGC-Santé assisted mode).

import { call } from "../api";
import { h, field } from "../dom";
import { t } from "../i18n";
import { errorBox, section, withProgress } from "../widgets";
import { pickFile } from "../files";
import { p12ImportForm } from "../p12import";
import { deadlineText } from "./dashboard";
import { revocationCode } from "./store";
import type { CertSummary } from "../bindings";

export async function pendingPage(): Promise<HTMLElement> {
  try {
    const [pending, caps] = await Promise.all([call("pending_list", null), call("capabilities", null).catch(() => null)]);
    const list =
      pending.length === 0
        ? h("p", {}, t("dash.noPending"))
        : h(
            "ul",
            { class: "plain" },
            ...pending.map((p) => h("li", {}, h("strong", {}, p.label), p.deadline && p.days_left !== null ? ` — ${deadlineText(p.deadline, p.days_left)}` : "")),
          );
    const file = h("input", { type: "text", name: "withdrawn-path", autocomplete: "off", spellcheck: "false" });
    const choose = h("button", { type: "button" }, t("common.choose"));
    choose.addEventListener("click", async () => {
      const p = await pickFile([{ name: t("files.certificates"), extensions: ["p7b", "p7c", "cer", "crt", "pem", "der"] }]);
      if (p) file.value = p;
    });
    const status = h("div", { "aria-live": "polite", "data-testid": "pending-status" });
    const form = h(
      "form",
      {},
      h("p", { class: "help" }, t("pending.installHelp")),
      field(t("common.file"), file),
      choose,
      h("div", {}, h("button", { type: "submit", class: "primary" }, t("pending.installBtn"))),
      status,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await withProgress(status, () => call("pending_install", { path: file.value.trim() }));
      if (r) {
        // IGC-Santé gives a revocation code at withdrawal: offered to keep it now, in the system keyring
        const rc = revocationCode({ sha256: r.sha256, holder: "" } as CertSummary);
        status.replaceChildren(h("p", { class: "ok", role: "status" }, t("pending.installed")), h("p", { class: "help" }, t("pending.keepCode")), rc.el);
        await rc.load();
      }
    });
    const p12 = p12ImportForm({ name: "mycert", testid: "pending-p12-status", enabled: !!caps?.pkcs12 && !!caps?.store, help: t("pending.p12Help") });
    return h("div", {}, section(t("pending.title"), list), section(t("pending.install"), form), section(t("pending.p12"), p12));
  } catch (e) {
    return errorBox(e);
  }
}
