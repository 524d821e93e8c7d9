// The IGC-Santé software-certificate request rules (platform user guide, see DESIGN.md): offers, usages, which
// subject fields and SAN each needs, and the checks the wizard runs before asking the core for the CSR.

export type Offer = "PS" | "PRO" | "ORG" | "SERV";
export type Usage = "AUTH" | "SIGN" | "CONF" | "AUTH_CLI" | "SSL_SERV" | "S/MIME";
export type FieldName = "cn" | "sn" | "gn" | "title" | "ou" | "o" | "st" | "email" | "upn" | "fqdns";

export const OFFERS: Offer[] = ["PS", "PRO", "ORG", "SERV"];

export const USAGES: Record<Offer, Usage[]> = {
  PS: ["AUTH", "SIGN", "CONF"],
  PRO: ["AUTH", "SIGN", "CONF"],
  ORG: ["AUTH_CLI", "SIGN", "CONF"],
  SERV: ["SSL_SERV", "S/MIME", "SIGN", "CONF"],
};

/** The fields the form asks for, in order. */
export function fieldsFor(offer: Offer, usage: Usage): FieldName[] {
  const f: FieldName[] = ["cn"];
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

/** Problems per field (French sentences with what to do); empty when the request can be built. */
export function validate(offer: Offer, usage: Usage, v: Values, lang: "fr" | "en" | "de" = "fr"): Partial<Record<FieldName, string>> {
  const fr = lang === "fr";
  const errs: Partial<Record<FieldName, string>> = {};
  for (const f of fieldsFor(offer, usage)) {
    const val = (v[f] ?? "").trim();
    if (!val) {
      errs[f] = fr ? "Ce champ est obligatoire : remplissez-le." : "This field is required: fill it in.";
      continue;
    }
    if (f === "cn" && (offer === "ORG" || offer === "SERV") && /^insi/i.test(val) && val !== "INSI-AUTO" && val !== "INSI-MANU") {
      errs.cn = fr ? "Pour l'INSi, le service applicatif doit être exactement INSI-AUTO ou INSI-MANU." : "For INSi the application service must be exactly INSI-AUTO or INSI-MANU.";
    }
    if (f === "st" && !DEPARTEMENT.test(val)) {
      errs.st = fr ? "Écrivez le département suivi de son numéro entre parenthèses, par exemple « Paris (75) »." : "Write the département followed by its number in brackets, e.g. “Paris (75)”.";
    }
    if (f === "email" && !EMAIL.test(val)) {
      errs.email = fr ? "Cette adresse électronique n'est pas valide : vérifiez-la (exemple : prenom.nom@exemple.fr)." : "This e-mail address is not valid: check it (e.g. first.last@example.org).";
    }
    if (f === "fqdns") {
      const names = val.split(/\s+/).filter(Boolean);
      if (names.length < 1 || names.length > 5) errs.fqdns = fr ? "Indiquez de 1 à 5 noms de serveur, un par ligne." : "Give 1 to 5 server names, one per line.";
      else if (!names.every((n) => FQDN.test(n))) errs.fqdns = fr ? "Un nom de serveur n'est pas valide (exemple : serveur.exemple.fr)." : "A server name is not valid (e.g. server.example.org).";
    }
    if (/[,+=<>#;"\\]/.test(val) && f !== "fqdns" && f !== "email" && f !== "upn") {
      errs[f] = fr ? "Évitez les caractères , + = < > # ; \" \\ dans ce champ." : "Avoid the characters , + = < > # ; \" \\ in this field.";
    }
  }
  return errs;
}
