// Pages redraw themselves on the core's events (issue 13): the Cartes page when a card comes or goes or a token
// probe ends, the Bi-clés page when the pairing changes, and a page left behind stops listening.
import { beforeEach, describe, expect, it } from "vitest";
import { leavePage, setEventSource, setInvoke } from "../src/api";
import type { LiveEvent, PortalState, ReaderState, TokenCertsView } from "../src/bindings";
import { setLang } from "../src/i18n";
import { cardsPage } from "../src/pages/cards";
import { biclesPage } from "../src/pages/simple";

const caps = { version: "0.1.0", cards: true, tokens: true, store: true, pkcs12: true, csr: true, pending: true, portal: true, password: true };
const handlers = new Map<string, ((p: unknown) => void)[]>();

function emit(name: string, payload: unknown): void {
  for (const h of handlers.get(name) ?? []) h(payload);
}

const settle = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
  setLang("fr");
  document.body.replaceChildren();
  handlers.clear();
  setEventSource(async (name, handler) => {
    handlers.set(name, [...(handlers.get(name) ?? []), handler]);
    return () =>
      handlers.set(
        name,
        (handlers.get(name) ?? []).filter((h) => h !== handler),
      );
  });
});

describe("live pages", () => {
  it("Cartes shows a card inserted and the tokens read in the background without being reopened", async () => {
    let readers: ReaderState[] = [{ name: "Virtual PCD 00 00", card: null }];
    let certs: TokenCertsView = { tokens: [], problems: [], probing: true };
    setInvoke(async (cmd) => (cmd === "capabilities" ? caps : cmd === "cards_list" ? readers : certs));
    const page = await cardsPage();
    expect(page.textContent).toContain("Virtual PCD 00 00");
    expect(page.querySelector("[data-testid=tokens-probing]")).not.toBeNull();

    readers = [{ name: "Virtual PCD 00 00", card: { atr: "3B9B", family: "cps4", name: "Carte CPS4" } }];
    certs = { tokens: [], problems: [{ code: "card.software_missing", message: "Virtual PCD 00 00 : Cryptolib CPS n'est pas installé." }], probing: true };
    emit("live-state", { change: "readers", probing: true, probes: 1 } satisfies LiveEvent);
    await settle();
    await settle();
    expect(page.textContent).toContain("Carte CPS4");
    expect(page.textContent).toContain("Cryptolib CPS");

    certs = { tokens: [], problems: certs.problems, probing: false };
    emit("live-state", { change: "probe_finished", probing: false, probes: 2 } satisfies LiveEvent);
    await settle();
    await settle();
    expect(page.querySelector("[data-testid=tokens-probing]")).toBeNull();

    // Left: no more calls on events.
    leavePage();
    let calls = 0;
    setInvoke(async () => {
      calls += 1;
      return certs;
    });
    emit("live-state", { change: "readers", probing: false, probes: 2 } satisfies LiveEvent);
    await settle();
    expect(calls).toBe(0);
    setInvoke(null);
  });

  it("Bi-clés says associé once the pairing succeeded elsewhere", async () => {
    let state: PortalState = { name: "PMP", url: "https://pmp.example", paired: false, connected: false };
    setInvoke(async (cmd) => {
      if (cmd === "capabilities") return caps;
      if (cmd === "portal_state") return state;
      return [];
    });
    const page = await biclesPage();
    expect(page.querySelector("[data-testid=portal-state]")?.textContent).toContain("non associé");
    state = { ...state, paired: true, connected: true };
    emit("portal-state", state);
    for (let i = 0; i < 5; i++) await settle();
    expect(page.querySelector("[data-testid=portal-state]")?.textContent).toContain("Connecté — PMP");
    expect(page.querySelector("[data-testid=portal-state]")?.textContent).not.toContain("non associé");
    leavePage();
    setInvoke(null);
  });
});
