// Cartes et jetons: readers and the identified card in each (PC/SC), then the PKCS#11 tokens with their PIN state,
// then the certificates on each token (public objects, read without the PIN).

import { call } from "../api";
import type { ReaderState, TokenCertRow, TokenCerts, TokenCertsView, TokensView } from "../bindings";
import { h } from "../dom";
import { t } from "../i18n";
import { errorBox, expiry, section, soonBox } from "../widgets";

export function readersTable(readers: ReaderState[]): HTMLElement {
  if (readers.length === 0) return h("p", {}, t("dash.noReader"));
  return h(
    "table",
    {},
    h("caption", { class: "sr-only" }, t("dash.readers")),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("cards.reader")), h("th", { scope: "col" }, t("cards.card")), h("th", { scope: "col" }, t("cards.atr")))),
    h("tbody", {}, ...readers.map((r) => h("tr", {}, h("th", { scope: "row" }, r.name), h("td", {}, r.card ? r.card.name : t("dash.emptyReader")), h("td", { class: "mono" }, r.card?.atr ?? "")))),
  );
}

const PIN_CLASS: Record<string, string> = { ok: "ok", count_low: "soon-exp", final_try: "expired", locked: "expired" };

export function tokensTable(v: TokensView): HTMLElement {
  const body: (HTMLElement | null)[] = [];
  if (v.tokens.length === 0) body.push(h("p", {}, t("cards.noToken")));
  else
    body.push(
      h(
        "table",
        {},
        h("caption", { class: "sr-only" }, t("cards.tokens")),
        h("thead", {}, h("tr", {}, ...["cards.token", "cards.reader", "cards.pin", "cards.module"].map((k) => h("th", { scope: "col" }, t(k))))),
        h(
          "tbody",
          {},
          ...v.tokens.map((tk) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, tk.label, h("br", {}), h("small", {}, `${tk.manufacturer} ${tk.model} — ${tk.serial}`)),
              h("td", {}, tk.slot),
              h("td", { class: PIN_CLASS[tk.pin_state] ?? "" }, tk.pin_message),
              h("td", { class: "mono" }, tk.module),
            ),
          ),
        ),
      ),
    );
  for (const p of v.problems) body.push(errorBox(p));
  return h("div", {}, ...body.filter((x): x is HTMLElement => !!x));
}

/** What a card certificate is for, in words: "Signature, chiffrement possible" for a LuxTrust-like certificate. */
export function roleText(c: TokenCertRow): string {
  const known = ["authentication", "signature", "encryption", "ca", "other"];
  const role = t(`cards.role.${known.includes(c.role) ? c.role : "other"}`);
  return c.certificate.encryption_capable && c.role !== "encryption" && c.role !== "ca" ? t("cards.role.alsoEncryption", { role }) : role;
}

/** One token's certificates: holder first, issuer's short name, expiry (expired ones marked), use, key on the card. */
export function tokenCertsTable(tc: TokenCerts): HTMLElement {
  const parts: HTMLElement[] = [];
  const caption = t("cards.certs", { label: tc.token.label });
  if (tc.error) parts.push(h("p", {}, caption), errorBox(tc.error));
  else if (tc.certificates.length === 0) parts.push(h("p", {}, caption, " — ", t("cards.noCert")));
  else
    parts.push(
      h(
        "table",
        { "data-testid": "token-certs" },
        h("caption", {}, caption),
        h("thead", {}, h("tr", {}, ...["store.holder", "store.issuer", "store.expires", "cards.role", "cards.key", "cards.keyId"].map((k) => h("th", { scope: "col" }, t(k))))),
        h(
          "tbody",
          {},
          ...tc.certificates.map((r) => {
            const c = r.certificate;
            const expired = c.days_left < 0;
            return h(
              "tr",
              { "data-sha256": c.sha256, class: expired ? "expired-row" : null },
              h(
                "th",
                { scope: "row" },
                c.holder,
                expired ? h("span", { class: "expired" }, ` — ${t("cards.expiredMark")}`) : null,
                h("details", {}, h("summary", {}, t("common.details")), h("dl", {}, h("dt", {}, t("cert.subject")), h("dd", { class: "mono" }, c.subject), h("dt", {}, "SHA-256"), h("dd", { class: "mono" }, c.sha256))),
              ),
              h("td", {}, c.issuer_name),
              h("td", {}, expiry(c.not_after, c.days_left)),
              h("td", {}, roleText(r)),
              h("td", {}, c.has_private_key ? t("store.yes") : t("store.no"), r.bicle_capable ? h("small", {}, h("br", {}), t("cards.bicle")) : null),
              h("td", { class: "mono" }, r.key_id || "—"),
            );
          }),
        ),
      ),
    );
  return h("div", { class: "token-certs" }, ...parts);
}

/** The tokens table, then each token's certificates. */
export function renderTokens(v: TokenCertsView): HTMLElement {
  const view: TokensView = { tokens: v.tokens.map((x) => x.token), problems: v.problems };
  return h("div", {}, tokensTable(view), ...v.tokens.map(tokenCertsTable));
}

export async function cardsPage(): Promise<HTMLElement> {
  const caps = await call("capabilities", null).catch(() => null);
  const readers = section(t("dash.readers"));
  const tokens = section(t("cards.tokens"));
  if (!caps?.cards) readers.appendChild(soonBox(t("nav.cards")));
  else readers.appendChild(await call("cards_list", null).then(readersTable, errorBox));
  if (!caps?.tokens) tokens.appendChild(soonBox(t("cards.tokens")));
  else tokens.appendChild(await call("token_certificates", null).then(renderTokens, errorBox));
  return h("div", {}, readers, tokens);
}
