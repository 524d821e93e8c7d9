// Demande de certificat: the IGC-Santé wizard (offre → usage → informations → CSR) and a generic request.

import { call } from "../api";
import { h, field } from "../dom";
import { t } from "../i18n";
import type { IgcInsi } from "../bindings";
import { type FieldName, INSI, OFFERS, type Offer, USAGES, type Usage, type Values, fieldsFor, igcRequest, isService, validate } from "../igc";
import { section, soonBox, withReplaceConfirm } from "../widgets";
import { formatDate, getLang } from "../i18n";
import { pickSave } from "../files";

const FIELD_LABEL: Record<FieldName, string> = {
  cn: "req.field.cn",
  sn: "req.field.sn",
  gn: "req.field.gn",
  title: "req.field.title",
  ou: "req.field.ou",
  o: "req.field.o",
  st: "req.field.st",
  email: "req.field.email",
  upn: "req.field.upn",
  fqdns: "req.field.fqdns",
};

export interface WizardState {
  out?: string;
  step: number;
  offer: Offer;
  usage: Usage;
  values: Values;
  /** ORG/SERV: the INSi service chosen instead of a free service name (null: free name). */
  insi: IgcInsi | null;
}

/** The cn's label: the national id for a person, the application service for ORG/SERV. */
function labelKey(f: FieldName, offer: Offer): string {
  return f === "cn" && isService(offer) ? "req.field.cnService" : FIELD_LABEL[f];
}

const STEPS = ["req.offer", "req.usage", "req.info", "req.csr"];

export function wizard(csrAvailable: boolean): HTMLElement {
  const st: WizardState = { step: 0, offer: "PS", usage: "AUTH", values: {}, insi: null };
  const root = h("div", { class: "wizard" });
  const render = () => {
    const heading = h("h3", { tabindex: -1 }, `${t("req.step", { n: st.step + 1, total: STEPS.length })} — ${t(STEPS[st.step])}`);
    const steps = h("ol", { class: "steps" }, ...STEPS.map((s, i) => h("li", { "aria-current": i === st.step ? "step" : null, class: i === st.step ? "current" : "" }, t(s))));
    const body = h("div", {});
    const status = h("div", { "aria-live": "polite" });
    const back = h("button", { type: "button", disabled: st.step === 0 }, t("common.back"));
    const next = h("button", { type: "submit", class: "primary" }, st.step === 3 ? t("req.generate") : t("common.next"));
    back.addEventListener("click", () => {
      st.step -= 1;
      render();
    });
    if (st.step === 0) {
      const fs = h("fieldset", {}, h("legend", {}, t("req.offer")));
      for (const o of OFFERS) {
        const id = `offer-${o}`;
        const r = h("input", { type: "radio", name: "offer", id, value: o, checked: st.offer === o });
        r.addEventListener("change", () => {
          st.offer = o;
          if (!USAGES[o].includes(st.usage)) st.usage = USAGES[o][0];
          if (!isService(o)) st.insi = null;
        });
        fs.appendChild(h("div", { class: "inline" }, r, h("label", { for: id }, t(`req.offer.${o}`))));
      }
      body.appendChild(fs);
    } else if (st.step === 1) {
      const fs = h("fieldset", {}, h("legend", {}, `${t("req.usage")} (${st.offer})`));
      for (const u of USAGES[st.offer]) {
        const id = `usage-${u.replace("/", "")}`;
        const r = h("input", { type: "radio", name: "usage", id, value: u, checked: st.usage === u });
        r.addEventListener("change", () => (st.usage = u));
        fs.appendChild(h("div", { class: "inline" }, r, h("label", { for: id }, u)));
      }
      body.appendChild(fs);
    } else if (st.step === 2) {
      // ORG/SERV: the INSi service (cn exactly INSI-AUTO / INSI-MANU) or a free service name. The cn field is always
      // built and only hidden for an INSi choice, so switching keeps the keyboard focus where it is.
      let cnField: HTMLElement | null = null;
      if (isService(st.offer)) {
        const fs = h("fieldset", { class: "cn-kind" }, h("legend", {}, t("req.cnKind")), h("p", { class: "help", id: "cn-kind-help" }, t("req.cnKindHelp")));
        fs.setAttribute("aria-describedby", "cn-kind-help");
        const choices: [string, IgcInsi | null, string][] = [
          ...INSI.map((i): [string, IgcInsi | null, string] => [`cn-${i.toLowerCase()}`, i, t(`req.insi.${i}`)]),
          ["cn-free", null, t("req.cnFree")],
        ];
        for (const [id, value, label] of choices) {
          const r = h("input", { type: "radio", name: "cn-kind", id, value: value ?? "free", checked: st.insi === value });
          r.addEventListener("change", () => {
            st.insi = value;
            if (cnField) cnField.hidden = value !== null;
          });
          fs.appendChild(h("div", { class: "inline" }, r, h("label", { for: id }, label)));
        }
        body.appendChild(fs);
      }
      for (const f of fieldsFor(st.offer, st.usage)) {
        const input =
          f === "fqdns"
            ? h("textarea", { name: f, rows: 3, required: true })
            : h("input", { type: f === "email" ? "email" : "text", name: f, required: true, autocomplete: "off" });
        input.value = st.values[f] ?? "";
        input.addEventListener("input", () => (st.values[f] = input.value));
        const el = field(`${t(labelKey(f, st.offer))} (${t("common.required")})`, input);
        if (f === "cn") {
          cnField = el;
          el.hidden = isService(st.offer) && st.insi !== null;
        }
        body.appendChild(el);
      }
    } else {
      const insiRow = isService(st.offer) && st.insi ? [h("div", {}, h("dt", {}, t("req.field.cnService")), h("dd", {}, st.insi))] : [];
      const rows = fieldsFor(st.offer, st.usage, st.insi).map((f) => h("div", {}, h("dt", {}, t(labelKey(f, st.offer))), h("dd", {}, st.values[f] ?? "")));
      body.appendChild(h("dl", { class: "summary" }, h("dt", {}, t("req.offer")), h("dd", {}, st.offer), h("dt", {}, t("req.usage")), h("dd", {}, st.usage), ...insiRow, ...rows));
      body.appendChild(h("p", { class: "help" }, t("req.keyInfo")));
      if (!csrAvailable) body.appendChild(soonBox(t("req.csr")));
      else {
        const out = h("input", { type: "text", name: "csr-out", autocomplete: "off", spellcheck: "false", required: true });
        out.value = st.out ?? "";
        out.addEventListener("input", () => (st.out = out.value));
        const choose = h("button", { type: "button" }, t("common.choose"));
        choose.addEventListener("click", async () => {
          const p = await pickSave("demande.csr", [{ name: "CSR", extensions: ["csr", "pem"] }]);
          if (p) out.value = st.out = p;
        });
        body.appendChild(field(t("req.out"), out, t("req.outHelp")));
        body.appendChild(choose);
      }
    }
    const form = h("form", { novalidate: true }, body, status, h("div", { class: "actions" }, back, next));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (st.step === 2) {
        const errs = validate(st.offer, st.usage, st.values, getLang(), st.insi);
        const list = Object.entries(errs);
        // Mark each invalid field and list the problems, then focus the first one.
        for (const el of form.querySelectorAll<HTMLInputElement>("input[name],textarea[name]")) {
          const msg = errs[el.name as FieldName];
          el.setAttribute("aria-invalid", msg ? "true" : "false");
        }
        if (list.length) {
          status.replaceChildren(h("div", { class: "error", role: "alert" }, h("ul", {}, ...list.map(([f, m]) => h("li", {}, `${t(labelKey(f as FieldName, st.offer))} : ${m}`)))));
          form.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
          return;
        }
      }
      if (st.step === 3) {
        if (!csrAvailable) return;
        next.disabled = true;
        void withReplaceConfirm(status, st.out ?? "", (force) => call("csr_igc_new", { ...igcRequest(st.offer, st.usage, st.values, st.insi, st.out ?? ""), force })).then((r) => {
          next.disabled = false;
          if (r) {
            status.replaceChildren(
              h(
                "div",
                { class: "ok-box", role: "status", "data-testid": "csr-done" },
                h("p", { class: "ok" }, t("req.done", { path: r.out })),
                r.deadline ? h("p", {}, t("req.deadline", { date: formatDate(r.deadline) })) : null,
                h("p", {}, h("a", { href: "#/attente" }, t("nav.pending"))),
              ),
            );
          }
        });
        return;
      }
      st.step += 1;
      render();
    });
    root.replaceChildren(steps, heading, form);
    heading.focus();
  };
  render();
  return root;
}

function genericForm(): HTMLElement {
  const subject = h("input", { type: "text", name: "generic-subject", autocomplete: "off", spellcheck: "false" });
  const emails = h("input", { type: "text", name: "generic-emails", autocomplete: "off" });
  const dns = h("input", { type: "text", name: "generic-dns", autocomplete: "off" });
  const out = h("input", { type: "text", name: "generic-out", autocomplete: "off", spellcheck: "false" });
  const status = h("div", { "aria-live": "polite", "data-testid": "generic-status" });
  const form = h(
    "form",
    {},
    field(t("req.field.subject"), subject),
    field(t("req.field.emails"), emails, t("req.listHelp")),
    field(t("req.field.dns"), dns, t("req.listHelp")),
    field(t("req.out"), out),
    h("p", { class: "help" }, t("req.keyInfo")),
    h("button", { type: "submit", class: "primary" }, t("req.generate")),
    status,
  );
  const list = (v: string) => v.split(/[\s,;]+/).filter(Boolean);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const path = out.value.trim();
    const r = await withReplaceConfirm(status, path, (force) =>
      call("csr_generic_new", { subject: subject.value, emails: list(emails.value), dns: list(dns.value), out: path, force }),
    );
    if (r) status.replaceChildren(h("p", { class: "ok", role: "status" }, t("req.done", { path: r.out })));
  });
  return form;
}

export async function requestPage(): Promise<HTMLElement> {
  const caps = await call("capabilities", null).catch(() => null);
  return h("div", {}, section(t("req.igc"), wizard(!!caps?.csr)), section(t("req.generic"), caps?.csr ? genericForm() : soonBox(t("req.generic"))));
}
