// Bi-clés (portail): pairing with the portal (code shown, approved on the portal page) and the channel state. The page
// redraws itself when the pairing or the channel changes (`portal-state`) and offers the certificates of the cards
// present (`live-state`).
// (Certificats en attente lives in pending.ts.)

import { call, inTauri, listenPage, redrawer, shell } from "../api";
import type { BicleCandidate, BicleRow, PortalState } from "../bindings";
import { h, field } from "../dom";
import { formatDate, t } from "../i18n";
import { confirmDialog, errorBox, section, soonBox, withProgress } from "../widgets";

function stateLine(p: PortalState): HTMLElement {
  return h(
    "p",
    { class: `state ${p.connected ? "on" : "off"}`, "data-testid": "portal-state" },
    h("span", { "aria-hidden": "true" }, p.connected ? "● " : "○ "),
    h("strong", {}, p.connected ? t("state.connected") : t("state.disconnected")),
    p.name ? ` — ${p.name}` : "",
    p.paired ? "" : ` (${t("state.notPaired")})`,
  );
}

function pairForm(p: PortalState, done: () => void): HTMLElement {
  const url = h("input", { type: "url", name: "portal-url", value: p.url ?? "", autocomplete: "url" });
  const status = h("div", { "aria-live": "polite", "data-testid": "pair-status" });
  const submit = h("button", { type: "submit", class: "primary" }, t("bicles.pair"));
  const form = h("form", {}, h("p", { class: "help" }, t("bicles.pairHelp")), field(t("settings.portalUrl"), url), submit, status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    const code = await withProgress(status, () => call("portal_pair_start", { url: url.value.trim(), device_name: null }));
    if (!code) {
      submit.disabled = false;
      return;
    }
    const link = code.verification_uri_complete ?? code.verification_uri;
    const codeBox = h(
      "div",
      { class: "pair-code" },
      h("p", {}, t("bicles.codeIs")),
      h("p", { class: "code-big", "data-testid": "pair-code" }, code.user_code),
      h("p", {}, t("bicles.codeCheck", { name: code.device_name }), " ", h("a", { href: link, target: "_blank", rel: "noreferrer" }, link)),
    );
    const wait = h("div", {});
    status.replaceChildren(codeBox, wait);
    const r = await withProgress(wait, () => call("portal_pair_finish", null));
    submit.disabled = false;
    if (r) {
      if (inTauri()) await shell("shell_portal_connect");
      status.replaceChildren(h("p", { class: "ok", role: "status" }, t("bicles.paired", { name: r.name ?? "" })));
      done();
    }
  });
  return form;
}

const STATUS_KEY: Record<string, string> = { actif: "bicles.status.active", a_confirmer: "bicles.status.toConfirm", suppression_a_confirmer: "bicles.status.removal" };

function bicleTable(rows: BicleRow[], kind: string, reload: () => void): HTMLElement {
  const mine = rows.filter((r) => r.kind === kind);
  if (mine.length === 0) return h("p", {}, t("bicles.none"));
  return h(
    "table",
    {},
    h("caption", { class: "sr-only" }, t(kind === "personal" ? "bicles.personal" : "bicles.backup")),
    h(
      "thead",
      {},
      h("tr", {}, ...["bicles.designation", "store.holder", "store.issuer", "store.expires", "bicles.status", "common.remove"].map((k) => h("th", { scope: "col" }, t(k)))),
    ),
    h(
      "tbody",
      {},
      ...mine.map((r) => {
        const status = h("div", { "aria-live": "polite" });
        const remove = h("button", { type: "button", class: "danger", "aria-label": `${t("common.remove")} : ${r.designation}` }, t("common.remove"));
        remove.addEventListener("click", async () => {
          if (!(await confirmDialog(t("bicles.confirmRemove", { name: r.designation })))) return;
          if ((await withProgress(status, () => call("portal_bicle_remove", { id: r.id }))) !== undefined) reload();
        });
        return h(
          "tr",
          {},
          h("th", { scope: "row" }, r.designation),
          h("td", {}, r.cn),
          h("td", {}, r.issuer),
          h("td", { class: r.expired ? "expired" : "" }, formatDate(r.not_after), r.expired ? ` — ${t("bicles.expired")}` : ""),
          h("td", {}, t(STATUS_KEY[r.status] ?? r.status)),
          h("td", {}, remove, status),
        );
      }),
    ),
  );
}

/** How a bi-clé candidate is named in the list: "Marie Dupont (LuxTrust Global Qualified CA 3) — carte « LuxTrust » — 31/12/2027". */
export function candidateLabel(c: BicleCandidate): string {
  const where = c.source === "token" ? t("bicles.onCard", { label: c.token ?? "" }) : t("bicles.inStore");
  return `${c.holder} (${c.issuer_name}) — ${where} — ${formatDate(c.not_after)}`;
}

function addForm(usable: BicleCandidate[], reload: () => void): HTMLElement {
  const fromStore = h("input", { type: "radio", name: "bicle-source", id: "bicle-from-store", value: "store", checked: usable.length > 0, disabled: usable.length === 0 });
  const generate = h("input", { type: "radio", name: "bicle-source", id: "bicle-generate", value: "generate", checked: usable.length === 0 });
  const which = h("select", { name: "bicle-cert", disabled: usable.length === 0 }, ...usable.map((c) => h("option", { value: c.sha256 }, candidateLabel(c))));
  const designation = h("input", { type: "text", name: "bicle-designation", autocomplete: "off", maxlength: 64 });
  designation.value = usable.length ? `${usable[0].holder} ${new Date().getFullYear()}` : "";
  const personal = h("input", { type: "checkbox", id: "bicle-personal", checked: true });
  const backup = h("input", { type: "checkbox", id: "bicle-backup" });
  const status = h("div", { "aria-live": "polite", "data-testid": "bicle-status" });
  const form = h(
    "form",
    {},
    h(
      "fieldset",
      {},
      h("legend", {}, t("bicles.source")),
      h("div", { class: "inline" }, fromStore, h("label", { for: "bicle-from-store" }, t("bicles.fromStore"))),
      h("div", { class: "inline" }, generate, h("label", { for: "bicle-generate" }, t("bicles.generate"))),
    ),
    usable.length ? field(t("bicles.cert"), which) : h("p", { class: "help" }, t("bicles.noUsable")),
    field(t("bicles.designation"), designation, t("bicles.designationHelp")),
    h(
      "fieldset",
      {},
      h("legend", {}, t("bicles.kinds")),
      h("div", { class: "inline" }, personal, h("label", { for: "bicle-personal" }, t("bicles.personal"))),
      h("div", { class: "inline" }, backup, h("label", { for: "bicle-backup" }, t("bicles.backup"))),
    ),
    h("button", { type: "submit", class: "primary" }, t("bicles.add")),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await withProgress(status, () =>
      call("portal_bicle_add", { generate: generate.checked, sha256: which.value ?? "", designation: designation.value, personal: personal.checked, backup: backup.checked }),
    );
    if (r) {
      status.replaceChildren(h("p", { class: "ok", role: "status" }, t("bicles.added")));
      reload();
    }
  });
  return form;
}

/** The backup-key drill: a test envelope to every registered bi-clé, opened with each key of this workstation. */
function drillSection(): HTMLElement {
  const pin = h("input", { type: "password", name: "drill-pin", autocomplete: "off" });
  const status = h("div", { "aria-live": "polite", "data-testid": "drill-result" });
  const form = h(
    "form",
    {},
    h("p", { class: "help" }, t("drill.help")),
    field(t("drill.pin"), pin, t("drill.pinHelp")),
    h("button", { type: "submit", class: "primary", name: "drill-run" }, t("drill.run")),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await withProgress(status, () => call("portal_drill", { pin: pin.value ? pin.value : null }));
    pin.value = "";
    if (!r) return;
    const verdict = (o: string, token: string | null) => t(`drill.${o}`, { card: token ?? "" });
    status.replaceChildren(
      h("p", { class: r.last.all_open ? "ok" : "error", role: "status" }, t(r.last.all_open ? "drill.allOpen" : "drill.notAll", { opened: r.last.opened, n: r.last.bicles })),
      h(
        "table",
        {},
        h("caption", {}, t("drill.caption")),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("bicles.designation")), h("th", { scope: "col" }, t("drill.kind")), h("th", { scope: "col" }, t("drill.verdict")))),
        h(
          "tbody",
          {},
          ...r.rows.map((row) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, row.designation),
              h("td", {}, t(row.kind === "backup" ? "bicles.backup" : "bicles.personal")),
              h("td", {}, verdict(row.outcome, row.token), row.error ? h("small", {}, ` — ${row.error.message} (${row.error.code})`) : ""),
            ),
          ),
        ),
      ),
    );
  });
  return form;
}

/** The add form is rebuilt with new candidates (a card came or went) unless the user is filling it in. */
function addInUse(form: Element | null): boolean {
  return !!form && (form.contains(document.activeElement) || !!form.querySelector("[data-testid=bicle-status] *"));
}

export async function biclesPage(): Promise<HTMLElement> {
  const root = h("div", {});
  let paired: boolean | null = null;
  const build = async (): Promise<void> => {
    const caps = await call("capabilities", null);
    if (!caps.portal) {
      root.replaceChildren(section(t("bicles.title"), soonBox(t("bicles.title"))));
      return;
    }
    const p = await call("portal_state", null);
    paired = p.paired;
    const tables = h("div", {});
    const drawTables = async () => {
      if (!p.paired) {
        tables.replaceChildren();
        return;
      }
      try {
        const rows = await call("portal_bicles", null);
        const warn = rows.some((r) => r.expired) ? h("div", { class: "error", role: "alert" }, h("p", {}, t("bicles.expiredWarn"))) : null;
        tables.replaceChildren(
          ...[
            warn,
            section(
              t("bicles.personal"),
              bicleTable(rows, "personal", () => void drawTables()),
            ),
            section(
              t("bicles.backup"),
              bicleTable(rows, "backup", () => void drawTables()),
            ),
          ].filter((x): x is HTMLElement => !!x),
        );
      } catch (e) {
        tables.replaceChildren(errorBox(e));
      }
    };
    const addSec = section(t("bicles.add"));
    let offered: string | null = null;
    const drawAdd = async () => {
      if (!p.paired) {
        addSec.replaceChildren(addSec.firstChild as Node, h("p", {}, t("bicles.pairFirst")));
        return;
      }
      let candidatesError: HTMLElement | null = null;
      const certs = await call("portal_bicle_candidates", null).catch((e) => {
        candidatesError = errorBox(e);
        return [] as BicleCandidate[];
      });
      const key = JSON.stringify(certs.map((c) => c.sha256));
      if (key === offered || addInUse(addSec.querySelector("form"))) return;
      offered = key;
      addSec.replaceChildren(addSec.firstChild as Node, ...[candidatesError, addForm(certs, () => void drawTables())].filter((x): x is HTMLElement => !!x));
    };
    const state = section(t("bicles.title"), stateLine(p), p.paired ? null : h("p", { class: "help" }, t("dash.portalHelp")));
    root.replaceChildren(
      state,
      section(
        t("bicles.pair"),
        pairForm(p, () => void rebuild()),
      ),
      tables,
      addSec,
    );
    if (p.paired) root.append(section(t("drill.title"), drillSection()));
    await Promise.all([drawTables(), drawAdd()]);
    // Card certificates offered as bi-clés follow the cards; the channel's state follows the portal.
    redrawAdd = drawAdd;
    redrawState = (next: PortalState) => {
      const line = state.querySelector("[data-testid=portal-state]");
      line?.replaceWith(stateLine(next));
    };
  };
  let redrawAdd: (() => Promise<void>) | null = null;
  let redrawState: ((p: PortalState) => void) | null = null;
  const rebuild = redrawer(async () => {
    try {
      await build();
    } catch (e) {
      root.replaceChildren(errorBox(e));
    }
  });
  await rebuild();
  listenPage("portal-state", (next) => {
    // Paired or unpaired (here or elsewhere): the whole page changes; otherwise only the state line.
    if (next.paired !== paired) void rebuild();
    else redrawState?.(next);
  });
  listenPage("live-state", (e) => {
    if (e.change === "probe_finished") void redrawAdd?.();
  });
  return root;
}
