import { describe, expect, it } from "vitest";
import { INSI, USAGES, fieldsFor, igcRequest } from "../src/igc";

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

  it("leaves the cn to the INSi choice (ORG/SERV only); the field rules themselves are the core's (csr_igc_check)", () => {
    expect(INSI).toEqual(["INSI-AUTO", "INSI-MANU"]);
    expect(fieldsFor("ORG", "AUTH_CLI", "INSI-MANU")).toEqual(["ou", "o", "st"]);
    expect(fieldsFor("PS", "AUTH", "INSI-AUTO")[0]).toBe("cn");
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
});
