// Cartes et jetons: readers and the identified card in each (PC/SC), then the PKCS#11 tokens with their PIN state,
// then the certificates on each token (public objects, read without the PIN). The core keeps all of it current
// (tokens are read in the background when a card comes or goes): the page draws what the core knows at once, says
// when tokens are being read, and redraws itself on every `live-state` event.

import { call, isApiError, listenPage, redrawer, toApiError } from "../api";
import type { ReaderState, TokenCertRow, TokenCerts, TokenCertsView, TokensView } from "../bindings";
import { h, field } from "../dom";
import { t } from "../i18n";
import { errorBox, expiry, section, soonBox, withProgress } from "../widgets";

export function readersTable(readers: ReaderState[]): HTMLElement {
  if (readers.length === 0) return h("p", {}, t("dash.noReader"));
  return h(
    "table",
    {},
    h("caption", { class: "sr-only" }, t("dash.readers")),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("cards.reader")), h("th", { scope: "col" }, t("cards.card")), h("th", { scope: "col" }, t("cards.atr")))),
    h(
      "tbody",
      {},
      ...readers.map((r) =>
        h("tr", {}, h("th", { scope: "row" }, r.name), h("td", {}, r.card ? r.card.name : t("dash.emptyReader")), h("td", { class: "mono" }, r.card?.atr ?? "")),
      ),
    ),
  );
}

const PIN_CLASS: Record<string, string> = { ok: "ok", count_low: "soon-exp", final_try: "expired", locked: "expired" };

export function tokensTable(v: TokensView): HTMLElement {
  const body: (HTMLElement | null)[] = [];
  if (v.probing)
    body.push(h("p", { class: "progress", role: "status", "data-testid": "tokens-probing" }, h("span", { class: "spinner", "aria-hidden": "true" }), t("cards.probing")));
  if (v.tokens.length === 0) body.push(h("p", {}, v.probing ? t("cards.probingNoToken") : t("cards.noToken")));
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
                h(
                  "details",
                  {},
                  h("summary", {}, t("common.details")),
                  h("dl", {}, h("dt", {}, t("cert.subject")), h("dd", { class: "mono" }, c.subject), h("dt", {}, "SHA-256"), h("dd", { class: "mono" }, c.sha256)),
                ),
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
  const view: TokensView = { tokens: v.tokens.map((x) => x.token), problems: v.problems, probing: v.probing };
  return h("div", {}, tokensTable(view), ...v.tokens.map(tokenCertsTable));
}

/** Changing or unblocking a card's PIN: the retries left are shown before anything is typed; the final try needs
 * a tick; the new PIN is typed twice (the core checks both and the card's lengths). */
export function pinForm(v: TokensView, onDone: () => void): HTMLElement {
  if (v.tokens.length === 0) return h("p", {}, t("pin.noToken"));
  const token = h("select", { name: "pin-token" }, ...v.tokens.map((x) => h("option", { value: x.label }, x.label)));
  const mode = h("select", { name: "pin-mode" }, h("option", { value: "change" }, t("pin.change")), h("option", { value: "unblock" }, t("pin.unblock")));
  const state = h("p", { "data-testid": "pin-state", role: "status" });
  const current = h("input", { type: "password", name: "pin-current", autocomplete: "off" });
  const currentLabel = h("span", {});
  const next = h("input", { type: "password", name: "pin-new", autocomplete: "off" });
  const confirm = h("input", { type: "password", name: "pin-confirm", autocomplete: "off" });
  const finalOk = h("input", { type: "checkbox", name: "pin-final-ok" });
  const finalRow = h("label", {}, finalOk, ` ${t("pin.finalTry")}`);
  const status = h("div", { "aria-live": "polite", "data-testid": "pin-status" });
  const padNote = h("p", { "data-testid": "pin-pad", class: "note" }, t("pin.onPad"));
  const codes = h("div", {});
  const refresh = () => {
    const row = v.tokens.find((x) => x.label === token.value);
    state.textContent = row ? `${row.label} — ${row.pin_message}` : "";
    // A reader with a keypad asks for the codes itself: nothing is typed in the window.
    padNote.hidden = !row?.pin_pad;
    codes.hidden = !!row?.pin_pad;
    finalRow.hidden = !(row && row.pin_state === "final_try" && mode.value === "change");
    currentLabel.textContent = mode.value === "change" ? t("pin.current") : t("pin.puk");
    current.setAttribute("aria-label", currentLabel.textContent);
  };
  codes.append(h("label", {}, currentLabel, current), field(t("pin.new"), next), field(t("pin.confirm"), confirm));
  token.addEventListener("change", refresh);
  mode.addEventListener("change", refresh);
  const form = h(
    "form",
    {},
    field(t("pin.token"), token),
    field(t("pin.mode"), mode),
    state,
    padNote,
    codes,
    finalRow,
    h("button", { type: "submit", class: "primary" }, t("pin.submit")),
    status,
  );
  refresh();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const req = { token: token.value, current: current.value, new_pin: next.value, confirm: confirm.value, final_try_ok: finalOk.checked };
    const r = await withProgress(status, () => call(mode.value === "change" ? "token_pin_change" : "token_pin_unblock", req));
    current.value = next.value = confirm.value = "";
    if (r) {
      status.replaceChildren(h("p", { class: "ok", role: "status" }, t(mode.value === "change" ? "pin.changed" : "pin.unblocked")));
      onDone();
    }
  });
  return form;
}

/** The PIN form is rebuilt when the tokens change, unless the user is typing in it. */
function pinInUse(form: Element | null): boolean {
  return !!form && [...form.querySelectorAll("input")].some((i) => i.value !== "" || i === document.activeElement);
}

export async function cardsPage(): Promise<HTMLElement> {
  const caps = await call("capabilities", null).catch(() => null);
  const readers = section(t("dash.readers"));
  const tokens = section(t("cards.tokens"));
  const pin = section(t("pin.title"));
  const title = (sec: HTMLElement) => sec.firstChild as Node;
  let pinLabels: string | null = null;
  const draw = redrawer(async () => {
    const [r, v] = await Promise.all([
      caps?.cards ? call("cards_list", null).then(readersTable, errorBox) : soonBox(t("nav.cards")),
      caps?.tokens ? call("token_certificates", null).catch(toApiError) : null,
    ]);
    readers.replaceChildren(title(readers), r);
    if (!caps?.tokens) {
      tokens.replaceChildren(title(tokens), soonBox(t("cards.tokens")));
      return;
    }
    if (!v || isApiError(v)) {
      tokens.replaceChildren(title(tokens), errorBox(v));
      return;
    }
    tokens.replaceChildren(title(tokens), renderTokens(v));
    const view: TokensView = { tokens: v.tokens.map((x) => x.token), problems: v.problems, probing: v.probing };
    const labels = JSON.stringify(view.tokens.map((x) => [x.label, x.pin_state]));
    const form = pin.querySelector("form");
    if (labels !== pinLabels && !pinInUse(form)) {
      pinLabels = labels;
      pin.replaceChildren(
        title(pin),
        pinForm(view, () => void draw()),
      );
    }
  });
  await draw();
  listenPage("live-state", () => void draw());
  return h("div", {}, readers, tokens, caps?.tokens ? pin : null);
}
