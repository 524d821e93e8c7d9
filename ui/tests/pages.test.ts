import { beforeEach, describe, expect, it } from "vitest";
import { setInvoke } from "../src/api";
import type { Dashboard } from "../src/bindings";
import { setLang } from "../src/i18n";
import { renderDashboard } from "../src/pages/dashboard";
import { wizard } from "../src/pages/request";
import { errorBox, passwordMeter } from "../src/widgets";

const caps = { version: "0.1.0", cards: true, tokens: true, store: true, pkcs12: true, csr: true, pending: true, portal: true, password: true };

function dash(over: Partial<Dashboard> = {}): Dashboard {
  return {
    capabilities: caps,
    portal: { name: "PMP", url: "https://pmp.example", paired: true, connected: true },
    readers: [{ name: "Virtual PCD 00 00", card: { atr: "3B7F", family: "luxtrust", name: "LuxTrust" } }],
    expiring: [],
    pending: [{ id: "p1", label: "IGC-Santé PS AUTH", created: "2026-11-20T10:00:00Z", deadline: "2026-11-30T10:00:00Z", days_left: 7 }],
    problems: [],
    drill: null,
    ...over,
  };
}

beforeEach(() => {
  setLang("fr");
  document.body.replaceChildren();
});

describe("dashboard", () => {
  it("shows Connecté, the card and the deadline without a click", () => {
    const el = renderDashboard(dash());
    expect(el.querySelector("[data-testid=portal-state]")?.textContent).toContain("Connecté — PMP");
    expect(el.textContent).toContain("Virtual PCD 00 00 : LuxTrust");
    expect(el.textContent).toContain("à retirer avant le 30/11/2026 (7 jour(s))");
  });

  it("shows the last bi-clé drill, or that none ran, when paired", () => {
    expect(renderDashboard(dash()).querySelector("[data-testid=drill-last]")?.textContent).toContain("Aucun exercice des bi-clés");
    const el = renderDashboard(dash({ drill: { checked_at: "2026-11-20T10:00:00Z", bicles: 2, opened: 1, all_open: false } }));
    expect(el.querySelector("[data-testid=drill-last]")?.textContent).toBe("Dernier exercice des bi-clés le 20/11/2026 : 1 sur 2 s'ouvrent. Refaites-le depuis la page Bi-clés.");
  });

  it("says bientôt disponible instead of inventing data", () => {
    const el = renderDashboard(dash({ capabilities: { ...caps, cards: false, portal: false }, portal: { name: "Portail", url: null, paired: false, connected: false } }));
    expect(el.textContent).toContain("Bientôt disponible");
    expect(el.textContent).toContain("Déconnecté");
    expect(el.textContent).not.toContain("Virtual PCD");
  });
});

describe("errors", () => {
  it("show the sentence and the code in small print, as an alert", () => {
    const el = errorBox({ code: "pkcs12.wrong_password", message: "Mot de passe incorrect : vérifiez-le." });
    expect(el.getAttribute("role")).toBe("alert");
    expect(el.querySelector("small")?.textContent).toBe("Code : pkcs12.wrong_password");
  });
});

describe("password meter", () => {
  it("asks the core and lists every unmet rule", async () => {
    const calls: unknown[] = [];
    setInvoke(async (cmd, args) => {
      calls.push([cmd, args]);
      return { accepted: false, score: 1, unmet: ["au moins 12 caractères", "au moins une lettre majuscule"], error: null };
    });
    const m = passwordMeter(() => "igc-sante");
    document.body.appendChild(m.el);
    m.input.value = "abc";
    m.input.dispatchEvent(new Event("input"));
    await new Promise((r) => setTimeout(r, 0));
    expect(calls[0]).toEqual(["password_check", { req: { password: "abc", policy: "igc-sante", user_inputs: [] }, lang: "fr" }]);
    expect(m.el.querySelectorAll("li").length).toBe(2);
    expect(m.accepted()).toBe(false);
    setInvoke(null);
  });
});

describe("IGC-Santé wizard", () => {
  it("walks offre → usage → informations and blocks on invalid fields with focus on the first", () => {
    const w = wizard(true);
    document.body.appendChild(w);
    const submit = () => w.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    (w.querySelector("#offer-PRO") as HTMLInputElement).click();
    submit();
    expect(w.querySelector("h3")?.textContent).toContain("Étape 2 sur 4");
    (w.querySelector("#usage-CONF") as HTMLInputElement).click();
    submit();
    expect(w.querySelectorAll("input[name],textarea[name]").length).toBe(8);
    submit();
    expect(w.querySelector("[role=alert]")?.textContent).toContain("obligatoire");
    expect(document.activeElement?.getAttribute("aria-invalid")).toBe("true");
  });
});

describe("cards and tokens", () => {
  it("shows the PIN state sentence with a warning class, and module problems as errors with their code", async () => {
    const { tokensTable } = await import("../src/pages/cards");
    const el = tokensTable({
      tokens: [
        {
          label: "LuxTrust",
          manufacturer: "Gemalto",
          model: "IDPrime 940",
          serial: "123",
          slot: "Reader 00",
          module: "/usr/lib/pkcs11/libgclib.so",
          pin_state: "final_try",
          pin_message: "Dernier essai avant blocage.",
          removable: true,
          pin_pad: false,
        },
      ],
      problems: [{ code: "token.module_load", message: "Le module ne se charge pas." }],
      probing: false,
    });
    expect(el.querySelector("td.expired")?.textContent).toBe("Dernier essai avant blocage.");
    expect(el.querySelector("[role=alert] small")?.textContent).toBe("Code : token.module_load");
  });
});

describe("diagnostic", () => {
  it("shows every link in the core's order, each verdict with its fix", async () => {
    const { renderDoctor } = await import("../src/pages/doctor");
    const el = renderDoctor({
      checks: [
        { id: "pcsc.service", status: "ok", message: "Le service des cartes à puce fonctionne et répond.", fix: null },
        { id: "card.module", status: "fail", message: "La carte est reconnue (CPS4) mais son logiciel, Cryptolib CPS, n'est pas installé.", fix: "Installez « Cryptolib CPS »." },
        { id: "clock", status: "skip", message: "Non vérifié.", fix: null },
      ],
    });
    const items = [...el.querySelectorAll("li")];
    expect(items.map((li) => li.getAttribute("data-check"))).toEqual(["pcsc.service", "card.module", "clock"]);
    expect(items[1].textContent).toContain("Échec");
    expect(items[1].textContent).toContain("À faire : Installez « Cryptolib CPS ».");
    expect(el.querySelector("[data-testid=doctor-summary]")?.textContent).toContain("1 maillon(s) en échec");
  });
});
