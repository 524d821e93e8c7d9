// Shared pieces of the window: error boxes (sentence + what to do + code in small print), "bientôt disponible"
// notices, progress, the password strength meter.

import type { ApiError, PasswordPolicy } from "./bindings";
import { call, toApiError } from "./api";
import { h, uid } from "./dom";
import { expiryText, formatDate, t } from "./i18n";

/** An error as the user sees it: the sentence, then the code in small print for support. */
export function errorBox(e: unknown): HTMLElement {
  const err: ApiError = toApiError(e);
  return h("div", { class: "error", role: "alert" }, h("p", {}, err.message), h("p", { class: "code" }, h("small", {}, `${t("error.code")} : ${err.code}`)));
}

/** An honest notice for areas whose core is not in this build. */
export function soonBox(what: string): HTMLElement {
  return h("div", { class: "soon", role: "note" }, h("p", {}, h("strong", {}, `${t("soon.title")} — ${what}`)), h("p", {}, t("soon.body")));
}

export function section(title: string, ...children: (Node | null)[]): HTMLElement {
  const id = uid("s");
  const s = h("section", { "aria-labelledby": id }, h("h2", { id }, title));
  for (const c of children) if (c) s.appendChild(c);
  return s;
}

/** Runs a long operation showing progress in `status`; errors replace the progress with an error box. */
export async function withProgress<T>(status: HTMLElement, op: () => Promise<T>): Promise<T | undefined> {
  status.replaceChildren(h("p", { class: "progress", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), t("common.working")));
  try {
    const r = await op();
    status.replaceChildren();
    return r;
  } catch (e) {
    status.replaceChildren(errorBox(e));
    return undefined;
  }
}

/**
 * [`withProgress`] for an operation that writes a file: the core never replaces a file unless asked, so when it
 * answers that `path` exists the user is asked, and only a "yes" runs the operation again with `force`.
 */
export async function withReplaceConfirm<T>(status: HTMLElement, path: string, op: (force: boolean) => Promise<T>): Promise<T | undefined> {
  status.replaceChildren(h("p", { class: "progress", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), t("common.working")));
  try {
    const r = await op(false);
    status.replaceChildren();
    return r;
  } catch (e) {
    const code = toApiError(e).code;
    if ((code === "file.exists" || code === "csr.output_exists") && (await confirmDialog(t("common.replaceFile", { path })))) {
      return withProgress(status, () => op(true));
    }
    status.replaceChildren(errorBox(e));
    return undefined;
  }
}

/** "31/12/2026 — expire dans 12 jours", with a warning class when close. */
export function expiry(notAfter: string, daysLeft: number): HTMLElement {
  const cls = daysLeft < 0 ? "expired" : daysLeft <= 30 ? "soon-exp" : "";
  return h("span", { class: cls }, `${formatDate(notAfter)} — ${expiryText(daysLeft)}`);
}

/** A new-password input with the policy's rules and a strength meter fed by the core (`password_check`). */
export function passwordMeter(policy: () => PasswordPolicy, userInputs: () => string[] = () => []): { el: HTMLElement; input: HTMLInputElement; accepted: () => boolean } {
  const input = h("input", { type: "password", autocomplete: "new-password", id: uid("pw") });
  const meter = h("meter", { min: 0, max: 4, low: 2, high: 3, optimum: 4, value: 0, "aria-label": t("pw.strength") });
  const levelText = h("span", { class: "pw-level" });
  const feedback = h("div", { class: "pw-feedback", "aria-live": "polite" });
  const show = h("input", { type: "checkbox", id: uid("show") });
  show.addEventListener("change", () => (input.type = show.checked ? "text" : "password"));
  let ok = false;
  let seq = 0;
  const update = async () => {
    const mine = ++seq;
    if (!input.value) {
      meter.value = 0;
      levelText.textContent = "";
      feedback.replaceChildren();
      ok = false;
      return;
    }
    try {
      const r = await call("password_check", { password: input.value, policy: policy(), user_inputs: userInputs() });
      if (mine !== seq) return;
      ok = r.accepted;
      meter.value = r.score;
      levelText.textContent = t("pw.levels").split("|")[r.score] ?? "";
      if (r.accepted) feedback.replaceChildren(h("p", { class: "ok" }, t("pw.ok")));
      else if (r.unmet.length) feedback.replaceChildren(h("p", {}, t("pw.missing")), h("ul", {}, ...r.unmet.map((u) => h("li", {}, u))));
      else if (r.error) feedback.replaceChildren(h("p", {}, r.error.message));
    } catch (e) {
      feedback.replaceChildren(errorBox(e));
    }
  };
  input.addEventListener("input", () => void update());
  const el = h(
    "div",
    { class: "field" },
    h("label", { for: input.id }, t("common.password")),
    input,
    h("div", { class: "pw-meter" }, h("span", {}, `${t("pw.strength")} : `), meter, " ", levelText),
    h("div", { class: "inline" }, show, h("label", { for: show.id }, t("pw.show"))),
    feedback,
  );
  return { el, input, accepted: () => ok };
}

/** Asks for confirmation in an accessible modal dialog; resolves true when confirmed. */
export function confirmDialog(message: string): Promise<boolean> {
  return new Promise((resolve) => {
    const id = uid("dlg");
    const dlg = h("dialog", { "aria-labelledby": id }, h("p", { id }, message));
    const done = (v: boolean) => {
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    dlg.appendChild(
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", onclick: () => done(false) }, t("common.cancel")),
        h("button", { type: "button", class: "danger", onclick: () => done(true) }, t("common.confirm")),
      ),
    );
    dlg.addEventListener("cancel", () => done(false));
    document.body.appendChild(dlg);
    if (typeof dlg.showModal === "function") dlg.showModal();
  });
}
