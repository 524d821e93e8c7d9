import { beforeEach, describe, expect, it } from "vitest";
import type { BicleCandidate, CertSummary, TokenCertRow, TokenCerts } from "../src/bindings";
import { setLang } from "../src/i18n";
import { renderTokens, roleText, tokenCertsTable } from "../src/pages/cards";
import { candidateLabel } from "../src/pages/simple";

function cert(over: Partial<CertSummary> = {}): CertSummary {
  return {
    holder: "Marie Dupont",
    issuer_name: "LuxTrust Global Qualified CA 3",
    subject: "CN=Marie Dupont,O=LuxTrust S.A.,C=LU",
    issuer: "CN=LuxTrust Global Qualified CA 3,O=LuxTrust S.A.,C=LU",
    serial: "01",
    not_before: "2025-01-01T00:00:00Z",
    not_after: "2027-12-31T12:00:00Z",
    days_left: 400,
    sha256: "ab".repeat(32),
    key_usage: ["digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment"],
    ext_key_usage: [],
    encryption_capable: true,
    is_ca: false,
    has_private_key: true,
    ...over,
  };
}

function row(over: Partial<TokenCertRow> = {}, c: Partial<CertSummary> = {}): TokenCertRow {
  return { certificate: cert(c), role: "signature", key_id: "5e", object_label: "sig", bicle_capable: true, ...over };
}

const token = {
  label: "LuxTrust",
  manufacturer: "Gemalto",
  model: "IDPrime 940",
  serial: "123",
  slot: "Reader 00",
  module: "/usr/lib/pkcs11/libgclib.so",
  pin_state: "ok",
  pin_message: "Code PIN : aucun essai erroné.",
  removable: true,
  pin_pad: false,
};

beforeEach(() => {
  setLang("fr");
  document.body.replaceChildren();
});

describe("card certificates", () => {
  it("name the role in words, saying when a signature certificate can also encrypt (LuxTrust)", () => {
    expect(roleText(row())).toBe("Signature, chiffrement possible");
    expect(roleText(row({ role: "authentication" }, { encryption_capable: false }))).toBe("Authentification");
    expect(roleText(row({ role: "encryption" }))).toBe("Chiffrement");
    expect(roleText(row({ role: "something-new" }, { encryption_capable: false }))).toBe("Autre");
    setLang("en");
    expect(roleText(row())).toBe("Signature, encryption possible");
  });

  it("show an accessible table per token, with expired certificates marked", () => {
    const tc: TokenCerts = {
      token,
      certificates: [row(), row({ key_id: "0d", role: "encryption", bicle_capable: false }, { holder: "Marie Ancienne", days_left: -3, sha256: "cd".repeat(32) })],
      error: null,
    };
    const el = tokenCertsTable(tc);
    expect(el.querySelector("caption")?.textContent).toBe("Certificats sur « LuxTrust »");
    expect([...el.querySelectorAll("thead th")].every((th) => th.getAttribute("scope") === "col")).toBe(true);
    const rows = el.querySelectorAll("tbody tr");
    expect(rows.length).toBe(2);
    expect(rows[0].querySelector("th[scope=row]")?.textContent).toContain("Marie Dupont");
    expect(rows[0].textContent).toContain("utilisable comme bi-clé");
    expect(rows[0].classList.contains("expired-row")).toBe(false);
    expect(rows[1].classList.contains("expired-row")).toBe(true);
    expect(rows[1].querySelector("th .expired")?.textContent).toContain("Expiré");
    expect(rows[1].querySelector("td .expired")?.textContent).toContain("expiré depuis 3 jour(s)");
    expect(rows[1].textContent).not.toContain("utilisable comme bi-clé");
  });

  it("keep the token shown when its certificates cannot be read, with the error and its code", () => {
    const el = renderTokens({
      tokens: [{ token, certificates: [], error: { code: "token.removed", message: "La carte a été retirée pendant la lecture." } }],
      problems: [],
      probing: false,
    });
    expect(el.textContent).toContain("LuxTrust");
    expect(el.querySelector("[role=alert] small")?.textContent).toBe("Code : token.removed");
    expect(el.querySelector("table[data-testid=token-certs]")).toBeNull();
  });
});

describe("bi-clé candidates", () => {
  const c: BicleCandidate = {
    sha256: "ab".repeat(32),
    holder: "Marie Dupont",
    issuer_name: "LuxTrust Global Qualified CA 3",
    not_after: "2027-12-31T12:00:00Z",
    days_left: 400,
    source: "token",
    token: "LuxTrust",
  };

  it("say whether the certificate is on a card (named) or in the store", () => {
    expect(candidateLabel(c)).toBe("Marie Dupont (LuxTrust Global Qualified CA 3) — carte « LuxTrust » — 31/12/2027");
    expect(candidateLabel({ ...c, source: "store", token: null })).toBe("Marie Dupont (LuxTrust Global Qualified CA 3) — magasin — 31/12/2027");
    setLang("de");
    expect(candidateLabel(c)).toBe("Marie Dupont (LuxTrust Global Qualified CA 3) — Karte „LuxTrust“ — 31.12.2027");
  });
});
