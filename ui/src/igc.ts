// The IGC-Santé software-certificate request rules (platform user guide, see DESIGN.md): offers, usages, which
// subject fields and SAN each needs, and the checks the wizard runs before asking the core for the CSR. They mirror
// src/csr/igc_sante.rs, which remains the authority (the core checks every request again and names the rule).

import type { IgcInsi, IgcRequest } from "./bindings";

export type Offer = "PS" | "PRO" | "ORG" | "SERV";
export type Usage = "AUTH" | "SIGN" | "CONF" | "AUTH_CLI" | "SSL_SERV" | "S/MIME";
export type FieldName = "cn" | "sn" | "gn" | "title" | "ou" | "o" | "st" | "email" | "upn" | "fqdns";

export const OFFERS: Offer[] = ["PS", "PRO", "ORG", "SERV"];

/** The INSi service names: for the INSi teleservice the ORG/SERV common name is exactly one of these. */
export const INSI: IgcInsi[] = ["INSI-AUTO", "INSI-MANU"];

/** ORG and SERV name an application service (cn); PS and PRO a person (cn = national id). */
export function isService(offer: Offer): boolean {
  return offer === "ORG" || offer === "SERV";
}

export const USAGES: Record<Offer, Usage[]> = {
  PS: ["AUTH", "SIGN", "CONF"],
  PRO: ["AUTH", "SIGN", "CONF"],
  ORG: ["AUTH_CLI", "SIGN", "CONF"],
  SERV: ["SSL_SERV", "S/MIME", "SIGN", "CONF"],
};

/** The fields the form asks for, in order. With an INSi choice (ORG/SERV) the cn is that choice, not typed. */
export function fieldsFor(offer: Offer, usage: Usage, insi: IgcInsi | null = null): FieldName[] {
  const f: FieldName[] = insi && isService(offer) ? [] : ["cn"];
  if (offer === "PS" || offer === "PRO") f.push("sn", "gn", "title");
  if (offer !== "PS") f.push("ou", "o", "st");
  if (usage === "CONF" || usage === "SIGN" || usage === "S/MIME") f.push("email");
  if (usage === "AUTH") f.push("upn");
  if (usage === "SSL_SERV") f.push("fqdns");
  return f;
}

export type Values = Partial<Record<FieldName, string>>;

const FQDN = /^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))+$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DEPARTEMENT = /^.+ \((\d{2}|2A|2B|\d{3})\)$/;

/** Problems per field (sentences with what to do, in `lang`); empty when the request can be built. */
export function validate(offer: Offer, usage: Usage, v: Values, lang: "fr" | "en" | "de" = "fr", insi: IgcInsi | null = null): Partial<Record<FieldName, string>> {
  // The sentence in the user's language: French, English, German.
  const say = (fr: string, en: string, de: string) => (lang === "fr" ? fr : lang === "de" ? de : en);
  const errs: Partial<Record<FieldName, string>> = {};
  if (insi && !isService(offer)) {
    // Core rule "insi_offer".
    errs.cn = say(
      `Le service INSi concerne les offres ORG et SERV, pas ${offer}.`,
      `The INSi service belongs to the ORG and SERV offers, not ${offer}.`,
      `Der INSi-Dienst gehört zu den Angeboten ORG und SERV, nicht zu ${offer}.`,
    );
  }
  for (const f of fieldsFor(offer, usage, insi)) {
    const val = (v[f] ?? "").trim();
    if (!val) {
      errs[f] = say("Ce champ est obligatoire : remplissez-le.", "This field is required: fill it in.", "Dies ist ein Pflichtfeld: Bitte füllen Sie es aus.");
      continue;
    }
    if (f === "cn" && isService(offer) && /^insi/i.test(val) && val !== "INSI-AUTO" && val !== "INSI-MANU") {
      // Core rule "insi_cn".
      errs.cn = say(
        "Pour l'INSi, le service applicatif doit être exactement INSI-AUTO ou INSI-MANU : choisissez « Service INSi » ci-dessus.",
        "For INSi the application service must be exactly INSI-AUTO or INSI-MANU: choose “INSi service” above.",
        "Für INSi muss der Anwendungsdienst genau INSI-AUTO oder INSI-MANU heißen: Wählen Sie oben „INSi-Dienst“.",
      );
    }
    if (f === "cn" && !isService(offer) && !/^[A-Za-z0-9/-]+$/.test(val)) {
      // Core rule "national_id".
      errs.cn = say(
        "L'identifiant national (RPPS/ADELI) s'écrit en chiffres et lettres, sans espace, par exemple 810012345678.",
        "The national id (RPPS/ADELI) is written in digits and letters, without spaces, e.g. 810012345678.",
        "Die nationale Kennung (RPPS/ADELI) besteht aus Ziffern und Buchstaben ohne Leerzeichen, zum Beispiel 810012345678.",
      );
    }
    if (f === "st" && !DEPARTEMENT.test(val)) {
      errs.st = say(
        "Écrivez le département suivi de son numéro entre parenthèses, par exemple « Paris (75) ».",
        "Write the département followed by its number in brackets, e.g. “Paris (75)”.",
        "Geben Sie das Département mit seiner Nummer in Klammern an, zum Beispiel „Paris (75)“.",
      );
    }
    if (f === "email" && !EMAIL.test(val)) {
      errs.email = say(
        "Cette adresse électronique n'est pas valide : vérifiez-la (exemple : prenom.nom@exemple.fr).",
        "This e-mail address is not valid: check it (e.g. first.last@example.org).",
        "Diese E-Mail-Adresse ist ungültig: Bitte prüfen Sie sie (Beispiel: vorname.nachname@beispiel.de).",
      );
    }
    if (f === "fqdns") {
      const names = val.split(/\s+/).filter(Boolean);
      if (names.length < 1 || names.length > 5)
        errs.fqdns = say("Indiquez de 1 à 5 noms de serveur, un par ligne.", "Give 1 to 5 server names, one per line.", "Geben Sie 1 bis 5 Servernamen an, einen pro Zeile.");
      else if (!names.every((n) => FQDN.test(n)))
        errs.fqdns = say(
          "Un nom de serveur n'est pas valide (exemple : serveur.exemple.fr).",
          "A server name is not valid (e.g. server.example.org).",
          "Ein Servername ist ungültig (Beispiel: server.beispiel.de).",
        );
    }
    if (/[,+=<>#;"\\]/.test(val) && f !== "fqdns" && f !== "email" && f !== "upn") {
      errs[f] = say(
        'Évitez les caractères , + = < > # ; " \\ dans ce champ.',
        'Avoid the characters , + = < > # ; " \\ in this field.',
        'Vermeiden Sie die Zeichen , + = < > # ; " \\ in diesem Feld.',
      );
    }
  }
  return errs;
}

/** The request the core receives (`csr_igc_new`): the typed fields, trimmed, empty ones as null; with an INSi
 * choice the cn is left to the core, which sets exactly INSI-AUTO or INSI-MANU. */
export function igcRequest(offer: Offer, usage: Usage, v: Values, insi: IgcInsi | null, out: string): IgcRequest {
  const fields = fieldsFor(offer, usage, insi);
  const val = (f: FieldName) => (fields.includes(f) ? (v[f] ?? "").trim() || null : null);
  return {
    offer,
    usage,
    cn: val("cn"),
    sn: val("sn"),
    gn: val("gn"),
    title: val("title"),
    ou: val("ou"),
    o: val("o"),
    st: val("st"),
    emails: val("email") ? [val("email") as string] : [],
    upn: val("upn"),
    fqdns: (val("fqdns") ?? "").split(/\s+/).filter(Boolean),
    insi: isService(offer) ? insi : null,
    out: out.trim(),
  };
}
