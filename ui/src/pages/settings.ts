// Paramètres: language, autostart (off by default), notifications, portals, PKCS#11 modules.

import { call, inTauri, shell } from "../api";
import type { Settings } from "../bindings";
import { h, field } from "../dom";
import { LANGS, type Lang, setLang, t } from "../i18n";
import { errorBox, section } from "../widgets";

const LANG_NAMES: Record<Lang, string> = { fr: "Français", en: "English", de: "Deutsch" };

export function settingsForm(s: Settings, onSaved: (s: Settings) => void): HTMLElement {
  const lang = h("select", {}, ...LANGS.map((l) => h("option", { value: l, selected: s.lang === l, lang: l }, LANG_NAMES[l])));
  const autostart = h("input", { type: "checkbox", checked: s.autostart, id: "autostart" });
  const notes = h("input", { type: "checkbox", checked: s.notifications, id: "notifications" });
  const drill = h(
    "select",
    { name: "drill-reminder" },
    ...[0, 30, 90, 180].map((n) => h("option", { value: String(n), selected: s.drill_reminder_days === n }, n === 0 ? t("settings.drillNever") : t("settings.drillEvery", { n }))),
  );
  const portal = s.portals[0] ?? { name: "", url: "" };
  const pname = h("input", { type: "text", value: portal.name, autocomplete: "off" });
  const purl = h("input", { type: "url", value: portal.url, autocomplete: "url" });
  const modules = h("textarea", { rows: 3 });
  modules.value = s.pkcs11_modules.join("\n");
  const status = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    {},
    field(t("settings.lang"), lang),
    h("div", { class: "inline" }, autostart, h("label", { for: "autostart" }, t("settings.autostart"))),
    h("div", { class: "inline" }, notes, h("label", { for: "notifications" }, t("settings.notifications"))),
    field(t("settings.drill"), drill),
    h("fieldset", {}, h("legend", {}, t("settings.portals")), field(t("settings.portalName"), pname), field(t("settings.portalUrl"), purl)),
    field(t("settings.modules"), modules, t("settings.modulesHelp")),
    h("button", { type: "submit", class: "primary" }, t("common.save")),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const next: Settings = {
      lang: lang.value,
      autostart: autostart.checked,
      notifications: notes.checked,
      drill_reminder_days: Number(drill.value),
      portals: [{ name: pname.value.trim(), url: purl.value.trim() }, ...s.portals.slice(1)],
      pkcs11_modules: modules.value
        .split("\n")
        .map((m) => m.trim())
        .filter(Boolean),
    };
    try {
      const saved = await call("settings_set", next);
      setLang(saved.lang as Lang);
      // The shell applies what lives outside the window: tray language, launch at login.
      if (inTauri()) await shell("shell_settings_changed");
      status.replaceChildren(h("p", { class: "ok", role: "status" }, t("common.saved")));
      onSaved(saved);
    } catch (err) {
      status.replaceChildren(errorBox(err));
    }
  });
  return form;
}

export async function settingsPage(onSaved: (s: Settings) => void): Promise<HTMLElement> {
  try {
    return section(t("settings.title"), settingsForm(await call("settings_get", null), onSaved));
  } catch (e) {
    return errorBox(e);
  }
}
