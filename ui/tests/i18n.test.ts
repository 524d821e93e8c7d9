import { describe, expect, it } from "vitest";
import { expiryText, formatDate, keys, parseLang, t } from "../src/i18n";

describe("i18n", () => {
  it("writes dates as the locale does (31/12/2026 in French)", () => {
    expect(formatDate("2026-12-31T12:00:00Z", "fr")).toBe("31/12/2026");
    expect(formatDate("2026-12-31T12:00:00Z", "de")).toBe("31.12.2026");
    expect(formatDate("2026-12-31T12:00:00Z", "en")).toBe("31/12/2026");
  });

  it("says when a certificate expires in plain words", () => {
    expect(expiryText(12, "fr")).toBe("expire dans 12 jour(s)");
    expect(expiryText(0, "fr")).toBe("expire aujourd'hui");
    expect(expiryText(-3, "en")).toBe("expired 3 day(s) ago");
  });

  it("has every English key in French, and speaks German in German", () => {
    const fr = new Set(keys("fr"));
    for (const k of keys("en")) expect(fr.has(k), k).toBe(true);
    expect(t("nav.dashboard", {}, "de")).toBe("Übersicht");
    expect(t("no.such.key", {}, "de")).toBe("no.such.key");
  });

  it("parses locale names", () => {
    expect(parseLang("de-DE")).toBe("de");
    expect(parseLang("en_GB")).toBe("en");
    expect(parseLang("C")).toBe("fr");
  });
});
