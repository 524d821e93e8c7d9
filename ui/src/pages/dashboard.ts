// Tableau de bord: every state that matters, visible without a click, redrawn when a card or the portal changes.

import { call, listenPage, redrawer } from "../api";
import type { Dashboard } from "../bindings";
import { h } from "../dom";
import { formatDate, t } from "../i18n";
import { errorBox, expiry, section, soonBox } from "../widgets";

export function deadlineText(deadline: string, daysLeft: number): string {
  return daysLeft < 0 ? t("deadline.passed", { date: formatDate(deadline) }) : t("deadline.left", { date: formatDate(deadline), n: daysLeft });
}

export function renderDashboard(d: Dashboard): HTMLElement {
  const portal = d.portal;
  const portalState = portal.connected ? t("state.connected") : t("state.disconnected");
  const portalSec = section(
    t("dash.portal"),
    h(
      "p",
      { class: `state ${portal.connected ? "on" : "off"}`, "data-testid": "portal-state" },
      h("span", { "aria-hidden": "true" }, portal.connected ? "● " : "○ "),
      h("strong", {}, portalState),
      portal.name ? ` — ${portal.name}` : "",
      !portal.paired ? ` (${t("state.notPaired")})` : "",
    ),
    !d.capabilities.portal ? soonBox(t("nav.bicles")) : !portal.paired ? h("p", { class: "help" }, t("dash.portalHelp")) : null,
    portal.paired
      ? h(
          "p",
          { "data-testid": "drill-last", class: d.drill && !d.drill.all_open ? "soon-exp" : "" },
          d.drill
            ? t(d.drill.all_open ? "dash.drillOk" : "dash.drillNotAll", { date: formatDate(d.drill.checked_at), opened: d.drill.opened, n: d.drill.bicles })
            : t("dash.drillNever"),
        )
      : null,
  );

  const readers = !d.capabilities.cards
    ? soonBox(t("nav.cards"))
    : d.readers.length === 0
      ? h("p", {}, t("dash.noReader"))
      : h("ul", { class: "plain" }, ...d.readers.map((r) => h("li", {}, h("strong", {}, r.name), " : ", r.card ? `${r.card.name}` : t("dash.emptyReader"))));

  const expiring = !d.capabilities.store
    ? soonBox(t("nav.store"))
    : d.expiring.length === 0
      ? h("p", {}, t("dash.noExpiring"))
      : h("ul", { class: "plain" }, ...d.expiring.map((c) => h("li", {}, h("strong", {}, c.holder), ` (${c.issuer_name}) — `, expiry(c.not_after, c.days_left))));

  const pending = !d.capabilities.pending
    ? soonBox(t("nav.pending"))
    : d.pending.length === 0
      ? h("p", {}, t("dash.noPending"))
      : h(
          "ul",
          { class: "plain" },
          ...d.pending.map((p) => h("li", {}, h("strong", {}, p.label), p.deadline && p.days_left !== null ? ` — ${deadlineText(p.deadline, p.days_left)}` : "")),
        );

  return h(
    "div",
    { class: "grid" },
    portalSec,
    section(t("dash.readers"), readers),
    section(t("dash.expiring"), expiring),
    section(t("dash.pending"), pending),
    ...d.problems.map((p) => errorBox(p)),
  );
}

/** The dashboard, redrawn when readers, cards or the portal change. */
export async function dashboardPage(): Promise<HTMLElement> {
  const root = h("div", {});
  const draw = redrawer(async () => {
    try {
      root.replaceChildren(renderDashboard(await call("dashboard", null)));
    } catch (e) {
      root.replaceChildren(errorBox(e));
    }
  });
  await draw();
  listenPage("live-state", (e) => {
    if (e.change === "readers") void draw();
  });
  listenPage("portal-state", () => void draw());
  return root;
}
