import { describe, expect, it } from "vitest";
import { INSI, USAGES, fieldsFor, igcRequest, validate } from "../src/igc";

describe("IGC-Santé request rules", () => {
  it("offers the platform's usages", () => {
    expect(USAGES.SERV).toEqual(["SSL_SERV", "S/MIME", "SIGN", "CONF"]);
    expect(USAGES.ORG).toContain("AUTH_CLI");
  });

  it("asks PS for identity fields and a UPN for AUTH", () => {
    expect(fieldsFor("PS", "AUTH")).toEqual(["cn", "sn", "gn", "title", "upn"]);
    expect(fieldsFor("PRO", "CONF")).toEqual(["cn", "sn", "gn", "title", "ou", "o", "st", "email"]);
    expect(fieldsFor("SERV", "SSL_SERV")).toEqual(["cn", "ou", "o", "st", "fqdns"]);
  });

  it("checks the département format, INSi names and 1 to 5 FQDNs", () => {
    const base = { cn: "INSI-AUTO", ou: "123456789", o: "Clinique", st: "Paris (75)", fqdns: "a.exemple.fr" };
    expect(validate("SERV", "SSL_SERV", base)).toEqual({});
    expect(validate("SERV", "SSL_SERV", { ...base, st: "Paris" }).st).toMatch(/Paris \(75\)/);
    expect(validate("ORG", "SIGN", { ...base, cn: "INSI-auto", email: "a@b.fr" }).cn).toMatch(/INSI-AUTO ou INSI-MANU/);
    expect(validate("SERV", "SSL_SERV", { ...base, fqdns: "a.fr b.fr c.fr d.fr e.fr f.fr" }).fqdns).toMatch(/1 à 5/);
    expect(validate("SERV", "SSL_SERV", { ...base, fqdns: "pas un nom" }).fqdns).toBeDefined();
  });

  it("requires every field and refuses DN metacharacters", () => {
    const e = validate("PS", "CONF", { cn: "810001234567", sn: "Dupont", gn: "Jean,", title: "", email: "jean@exemple.fr" });
    expect(e.title).toMatch(/obligatoire/);
    expect(e.gn).toMatch(/caractères/);
    expect(e.email).toBeUndefined();
  });

  it("mirrors the core's INSi rules: exact names only, ORG/SERV only, cn taken from the choice", () => {
    expect(INSI).toEqual(["INSI-AUTO", "INSI-MANU"]);
    const org = { ou: "123456789", o: "Clinique", st: "Paris (75)" };
    // A free service name that looks like INSi but is not exact: rule insi_cn (the core refuses it too).
    for (const near of ["INSI-AUT", "insi-auto", "INSI", "INSI-MANUEL"]) {
      expect(validate("ORG", "AUTH_CLI", { ...org, cn: near }).cn, near).toMatch(/exactement INSI-AUTO ou INSI-MANU/);
    }
    expect(validate("ORG", "AUTH_CLI", { ...org, cn: "INSI-AUT" }, "en").cn).toMatch(/exactly INSI-AUTO or INSI-MANU/);
    expect(validate("ORG", "AUTH_CLI", { ...org, cn: "INSI-AUTO" })).toEqual({});
    expect(validate("ORG", "AUTH_CLI", { ...org, cn: "Portail patients" })).toEqual({});
    // With the INSi choice the cn is not asked for, and an empty one is fine.
    expect(fieldsFor("ORG", "AUTH_CLI", "INSI-MANU")).toEqual(["ou", "o", "st"]);
    expect(validate("ORG", "AUTH_CLI", org, "fr", "INSI-MANU")).toEqual({});
    expect(validate("ORG", "AUTH_CLI", org, "fr", null).cn).toMatch(/obligatoire/);
    // INSi belongs to ORG and SERV (rule insi_offer); a person's cn stays the national id.
    expect(fieldsFor("PS", "AUTH", "INSI-AUTO")[0]).toBe("cn");
    expect(validate("PS", "AUTH", { cn: "810001234567", sn: "D", gn: "J", title: "Médecin", upn: "j@h.fr" }, "fr", "INSI-AUTO").cn).toMatch(/ORG et SERV/);
    expect(validate("PS", "AUTH", { cn: "8100 0123", sn: "D", gn: "J", title: "Médecin", upn: "j@h.fr" }).cn).toMatch(/sans espace/);
  });

  it("builds the core's request: INSi sent as the choice with no cn, stale fields dropped", () => {
    const v = { cn: "ancien nom", ou: " 123456789 ", o: "Clinique", st: "Paris (75)", email: "serv@clinique.fr", upn: "x@y.fr" };
    expect(igcRequest("ORG", "SIGN", v, "INSI-AUTO", " /tmp/d.csr ")).toEqual({
      offer: "ORG",
      usage: "SIGN",
      cn: null,
      sn: null,
      gn: null,
      title: null,
      ou: "123456789",
      o: "Clinique",
      st: "Paris (75)",
      emails: ["serv@clinique.fr"],
      upn: null,
      fqdns: [],
      insi: "INSI-AUTO",
      out: "/tmp/d.csr",
    });
    const free = igcRequest("SERV", "SSL_SERV", { ...v, cn: "Portail", fqdns: "a.exemple.fr\nb.exemple.fr" }, null, "d.csr");
    expect([free.cn, free.insi, free.fqdns, free.emails]).toEqual(["Portail", null, ["a.exemple.fr", "b.exemple.fr"], []]);
    // An INSi choice left over from ORG is not sent for a person.
    expect(igcRequest("PS", "AUTH", { cn: "810001234567", upn: "j@h.fr" }, "INSI-MANU", "d.csr").insi).toBeNull();
  });

  it("says what to fix in German to a German user, never in English", () => {
    const base = { cn: "Portail", ou: "1", o: "Clinique", st: "Paris", fqdns: "pas un nom" };
    const de = validate("SERV", "SSL_SERV", { ...base, o: "Cl,inique" }, "de");
    expect(de.st).toBe("Geben Sie das Département mit seiner Nummer in Klammern an, zum Beispiel „Paris (75)“.");
    expect(de.fqdns).toMatch(/Servername ist ungültig/);
    expect(de.o).toMatch(/^Vermeiden Sie die Zeichen/);
    expect(validate("PS", "AUTH", { cn: "81 00" }, "de").cn).toMatch(/^Die nationale Kennung/);
    expect(validate("PS", "AUTH", { cn: "810001234567" }, "de").upn).toBe("Dies ist ein Pflichtfeld: Bitte füllen Sie es aus.");
    expect(validate("PS", "AUTH", { cn: "810001234567" }, "de", "INSI-AUTO").cn).toMatch(/^Der INSi-Dienst gehört/);
    expect(validate("ORG", "SIGN", { ...base, cn: "INSI-auto", email: "x" }, "de")).toMatchObject({
      cn: expect.stringMatching(/genau INSI-AUTO oder INSI-MANU/),
      email: expect.stringMatching(/E-Mail-Adresse ist ungültig/),
    });
    expect(validate("SERV", "SSL_SERV", { ...base, fqdns: "a.fr b.fr c.fr d.fr e.fr f.fr" }, "de").fqdns).toMatch(/1 bis 5 Servernamen/);
  });
});
