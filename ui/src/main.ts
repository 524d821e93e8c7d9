// The window: a header that always shows the state (portal Connecté/Déconnecté, card), the section navigation,
// and the current page. Hash routes (#/tableau-de-bord …) so every page has an address the tests can open.

import "./style.css";
import { call, inTauri, leavePage, shell } from "./api";
import type { TrayView } from "./bindings";
import { h } from "./dom";
import { type Lang, parseLang, setLang, t } from "./i18n";
import { errorBox } from "./widgets";
import { dashboardPage } from "./pages/dashboard";
import { cardsPage } from "./pages/cards";
import { storePage } from "./pages/store";
import { requestPage } from "./pages/request";
import { biclesPage } from "./pages/simple";
import { pendingPage } from "./pages/pending";
import { envelopePage } from "./pages/envelope";
import { settingsPage } from "./pages/settings";
import { doctorPage } from "./pages/doctor";

export interface Route {
  path: string;
  key: string;
  render: () => Promise<HTMLElement>;
}

export const ROUTES: Route[] = [
  { path: "tableau-de-bord", key: "nav.dashboard", render: dashboardPage },
  { path: "cartes", key: "nav.cards", render: cardsPage },
  { path: "magasin", key: "nav.store", render: storePage },
  { path: "bicles", key: "nav.bicles", render: biclesPage },
  { path: "demande", key: "nav.request", render: requestPage },
  { path: "attente", key: "nav.pending", render: pendingPage },
  { path: "pli", key: "nav.envelope", render: envelopePage },
  { path: "diagnostic", key: "nav.doctor", render: doctorPage },
  { path: "parametres", key: "nav.settings", render: () => settingsPage(() => void mount()) },
];

export function routeFor(hash: string): Route {
  const path = hash.replace(/^#\/?/, "");
  return ROUTES.find((r) => r.path === path) ?? ROUTES[0];
}

let tray: TrayView | null = null;

function header(): HTMLElement {
  const state = h("p", { class: "header-state", "data-testid": "header-state", role: "status" });
  if (tray) state.append(h("span", {}, tray.portal_line), h("span", { class: "sep", "aria-hidden": "true" }, " · "), h("span", {}, tray.card_line));
  return h("header", { class: "top" }, h("p", { class: "brand" }, t("app.title")), state);
}

function nav(current: Route): HTMLElement {
  return h(
    "nav",
    { "aria-label": t("nav.label") },
    h("ul", {}, ...ROUTES.map((r) => h("li", {}, h("a", { href: `#/${r.path}`, "aria-current": r === current ? "page" : null }, t(r.key))))),
  );
}

let renderSeq = 0;

export async function mount(): Promise<void> {
  const app = document.getElementById("app");
  if (!app) return;
  const route = routeFor(location.hash);
  const seq = ++renderSeq;
  // The previous page stops listening to the core's events.
  leavePage();
  const main = h("main", { id: "contenu", tabindex: -1 }, h("h1", {}, t(route.key)), h("p", { role: "status" }, t("common.loading")));
  app.replaceChildren(
    h(
      "a",
      {
        class: "skip",
        href: "#contenu",
        onclick: (e: Event) => {
          e.preventDefault();
          main.focus();
        },
      },
      t("app.skip"),
    ),
    header(),
    h("div", { class: "layout" }, nav(route), main),
  );
  document.title = `${t(route.key)} — Trousseau`;
  let page: HTMLElement;
  try {
    page = await route.render();
  } catch (e) {
    page = errorBox(e);
  }
  if (seq !== renderSeq) return;
  main.replaceChildren(h("h1", {}, t(route.key)), page);
  main.dataset.ready = "true";
}

async function start(): Promise<void> {
  let lang: Lang = parseLang(navigator.language);
  try {
    lang = parseLang((await call("settings_get", null)).lang);
  } catch {
    /* defaults */
  }
  setLang(lang);
  if (inTauri()) {
    try {
      tray = await shell<TrayView>("shell_tray_state");
    } catch {
      tray = null;
    }
    const { listen } = await import("@tauri-apps/api/event");
    await listen<TrayView>("tray-state", (e) => {
      tray = e.payload;
      const old = document.querySelector("header.top");
      old?.replaceWith(header());
    });
    await listen<string>("navigate", (e) => {
      location.hash = `#/${e.payload}`;
    });
    await listen<string>("deep-link", () => {
      location.hash = "#/bicles";
    });
    const link = await shell<string | null>("shell_take_link").catch(() => null);
    if (link) location.hash = "#/bicles";
  }
  window.addEventListener("hashchange", () => {
    void mount().then(() => document.getElementById("contenu")?.focus());
  });
  await mount();
}

if (typeof window !== "undefined" && !(globalThis as { __VITEST__?: boolean }).__VITEST__) void start();
