// Cartes et jetons: readers and the identified card in each (PC/SC), then the PKCS#11 tokens with their PIN state.

import { call } from "../api";
import type { ReaderState, TokensView } from "../bindings";
import { h } from "../dom";
import { t } from "../i18n";
import { errorBox, section, soonBox } from "../widgets";

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

export async function cardsPage(): Promise<HTMLElement> {
  const caps = await call("capabilities", null).catch(() => null);
  const readers = section(t("dash.readers"));
  const tokens = section(t("cards.tokens"));
  if (!caps?.cards) readers.appendChild(soonBox(t("nav.cards")));
  else readers.appendChild(await call("cards_list", null).then(readersTable, errorBox));
  if (!caps?.tokens) tokens.appendChild(soonBox(t("cards.tokens")));
  else tokens.appendChild(await call("tokens_list", null).then(tokensTable, errorBox));
  return h("div", {}, readers, tokens);
}
