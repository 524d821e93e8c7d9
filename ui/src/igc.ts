// The IGC-Santé wizard's form: offers, usages and the fields the form shows for them, and the request built from
// what the user typed. The rules live in the core: the wizard asks `csr_igc_check` what is wrong with each field
// (src/csr/igc_form.rs), and the core checks the request again when it is made (src/csr/igc_sante.rs).

import type { IgcCheckRequest, IgcInsi, IgcOffer, IgcRequest, IgcUsage } from "./bindings";

/** The core's offers and usages (src/csr/igc_sante.rs), as the command surface types them. */
export type Offer = IgcOffer;
export type Usage = IgcUsage;
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

/** The request the core receives (`csr_igc_new`): the form's fields plus where to write the CSR. */
export function igcRequest(offer: Offer, usage: Usage, v: Values, insi: IgcInsi | null, out: string): IgcRequest {
  return { ...igcInput(offer, usage, v, insi), out: out.trim() };
}

/** The form's fields as the core checks them (`csr_igc_check`): the typed fields, trimmed, empty ones as null;
 * with an INSi choice the cn is left to the core, which sets exactly INSI-AUTO or INSI-MANU. */
export function igcInput(offer: Offer, usage: Usage, v: Values, insi: IgcInsi | null): IgcCheckRequest {
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
  };
}
