// Diagnostic: the workstation's chain checked link by link by the core (`doctor`), in order — card service,
// reader, card, its software, token and PIN, certificates, browsers, store, portal, clock — each with its verdict
// and what to do. Nothing is judged here: the page only shows the core's verdicts.

import { call } from "../api";
import type { Check, DoctorReport } from "../bindings";
import { h } from "../dom";
import { t } from "../i18n";
import { errorBox, withProgress } from "../widgets";

const CLASS: Record<string, string> = { ok: "ok", warn: "soon-exp", fail: "expired", skip: "muted" };

function checkItem(c: Check): HTMLElement {
  return h(
    "li",
    { "data-check": c.id, "data-status": c.status },
    h("strong", { class: CLASS[c.status] ?? "" }, t(`doctor.status.${c.status}`)),
    " — ",
    c.message,
    c.fix ? h("p", { class: "help" }, h("span", {}, t("doctor.fix")), " ", c.fix) : null,
  );
}

/** The verdicts, in chain order. */
export function renderDoctor(r: DoctorReport): HTMLElement {
  const failed = r.checks.filter((c) => c.status === "fail").length;
  const summary = h("p", { role: "status", "data-testid": "doctor-summary" }, failed === 0 ? t("doctor.allGood") : t("doctor.failed", { n: String(failed) }));
  return h("div", {}, summary, h("ol", { class: "plain doctor" }, ...r.checks.map(checkItem)));
}

/** The run in progress, shared by the visits of the page meanwhile (going back and forth does not start more). */
let running: Promise<DoctorReport> | null = null;

function diagnose(): Promise<DoctorReport> {
  if (!running) {
    running = call("doctor", null);
    void running.then(
      () => (running = null),
      () => (running = null),
    );
  }
  return running;
}

export async function doctorPage(): Promise<HTMLElement> {
  const out = h("div", { "aria-live": "polite" });
  const run = async () => {
    const r = await withProgress(out, diagnose);
    if (r) out.replaceChildren(renderDoctor(r));
  };
  const again = h("button", { type: "button" }, t("doctor.again"));
  again.addEventListener("click", () => void run());
  // The checks ask the card modules and the portal, which may take seconds: the page is shown at once with the
  // progress line, and the verdicts replace it when they come.
  void run().catch((e) => out.replaceChildren(errorBox(e)));
  return h("div", {}, h("p", { class: "help" }, t("doctor.intro")), again, out);
}
