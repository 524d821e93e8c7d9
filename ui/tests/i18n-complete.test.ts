// Every word of the window exists in French, English and German (issue 6): a key of `fr` missing in `en` or `de`,
// a placeholder that differs between languages, or an empty translation fails here, so a German user never sees
// English (or a raw key) again without a test saying which key.

/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { keys, LANGS, t, type Lang } from "../src/i18n";

type Dict = Record<string, string>;

/** The raw text of each key (placeholders kept: `t` leaves `{name}` alone when no value is given). */
function dict(lang: Lang): Dict {
  return Object.fromEntries(keys(lang).map((k) => [k, t(k, {}, lang)]));
}

/** The placeholders of a text, sorted: "Étape {n} sur {total}" → ["n", "total"]. */
function placeholders(text: string): string[] {
  return [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
}

/** What is wrong with `other` compared with the French reference, one sentence per problem (empty when complete). */
function problems(fr: Dict, other: Dict, lang: string): string[] {
  const out: string[] = [];
  for (const [k, ref] of Object.entries(fr)) {
    if (!(k in other)) {
      out.push(`${lang}: missing key ${k}`);
      continue;
    }
    const v = other[k];
    if (v.trim() === "") out.push(`${lang}: empty translation for ${k}`);
    const want = placeholders(ref).join(",");
    const got = placeholders(v).join(",");
    if (want !== got) out.push(`${lang}: ${k} has placeholders {${got}} instead of {${want}}`);
    // "pw.levels" is a list split on "|": each language needs as many items as French.
    if (ref.split("|").length !== v.split("|").length) out.push(`${lang}: ${k} has ${v.split("|").length} "|" items instead of ${ref.split("|").length}`);
  }
  for (const k of Object.keys(other)) if (!(k in fr)) out.push(`${lang}: key ${k} is not in French`);
  return out;
}

describe("every string of the window in French, English and German", () => {
  const fr = dict("fr");

  it("has a non-empty French text for every key", () => {
    expect(Object.keys(fr).length).toBeGreaterThan(100);
    expect(
      Object.entries(fr)
        .filter(([, v]) => v.trim() === "")
        .map(([k]) => k),
    ).toEqual([]);
  });

  it.each(LANGS.filter((l) => l !== "fr"))("%s has every French key, with the same placeholders, none empty", (lang) => {
    expect(problems(fr, dict(lang), lang)).toEqual([]);
  });

  it("German speaks German, not the English fallback, on keys that differ in English", () => {
    const en = dict("en");
    const de = dict("de");
    // Words that are the same in every language (Trousseau, ATR, Module, PKCS#11…) may match; sentences may not.
    const copied = Object.keys(fr).filter((k) => k in de && de[k] === en[k] && en[k] !== fr[k] && en[k].split(" ").length > 2);
    expect(copied).toEqual([]);
  });

  it("the check itself catches a missing key, a changed placeholder, an empty text and a short list", () => {
    const ref = { a: "Bonjour {name}", b: "Étape {n} sur {total}", c: "Oui", d: "un|deux|trois" };
    const bad = { a: "Hello {nom}", b: "Step {n} of {total}", c: " ", d: "one|two", extra: "x" };
    expect(problems(ref, bad, "xx")).toEqual([
      "xx: a has placeholders {nom} instead of {name}",
      "xx: empty translation for c",
      'xx: d has 2 "|" items instead of 3',
      "xx: key extra is not in French",
    ]);
    expect(problems(ref, { a: "Hi {name}", c: "Yes", d: "1|2|3" }, "xx")).toEqual(["xx: missing key b"]);
  });

  it("every key the window's code names literally exists in French", () => {
    const sources = import.meta.glob<string>(["../src/**/*.ts", "!../src/bindings.ts"], { query: "?raw", import: "default", eager: true });
    const used = new Set<string>();
    for (const text of Object.values(sources)) {
      for (const m of text.matchAll(/\bt\("([a-z]+\.[A-Za-z0-9.-]+)"/g)) used.add(m[1]);
    }
    expect(used.size).toBeGreaterThan(50);
    expect([...used].filter((k) => !(k in fr))).toEqual([]);
  });
});
