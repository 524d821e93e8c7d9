import { describe, expect, it } from "vitest";
import { USAGES, fieldsFor, validate } from "../src/igc";

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
    const e = validate("PS", "CONF", { cn: "810001234567", sn: "Dupont", gn: "Jean,", title: "" , email: "jean@exemple.fr" });
    expect(e.title).toMatch(/obligatoire/);
    expect(e.gn).toMatch(/caractères/);
    expect(e.email).toBeUndefined();
  });
});
