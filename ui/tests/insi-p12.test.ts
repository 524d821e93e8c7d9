// The wizard's INSi choice and the .p12 installation from Certificats en attente, driven through the DOM with a
// recording transport in place of the Tauri shell (the core's answers as the commands return them).

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setInvoke } from "../src/api";
import { setLang } from "../src/i18n";
import { wizard } from "../src/pages/request";
import { pendingPage } from "../src/pages/pending";

const caps = { version: "0.1.0", cards: true, tokens: true, store: true, pkcs12: true, csr: true, pending: true, portal: true, password: true };
const tick = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
  setLang("fr");
  document.body.replaceChildren();
});
afterEach(() => setInvoke(null));

describe("IGC-Santé wizard: INSi choice", () => {
  function toInformation(offer: string, usage: string) {
    const w = wizard(true);
    document.body.appendChild(w);
    const submit = () => w.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    (w.querySelector(`#offer-${offer}`) as HTMLInputElement).click();
    submit();
    (w.querySelector(`#usage-${usage}`) as HTMLInputElement).click();
    submit();
    return { w, submit };
  }
  const type = (w: HTMLElement, name: string, value: string) => {
    const el = w.querySelector(`[name=${name}]`) as HTMLInputElement;
    el.value = value;
    el.dispatchEvent(new Event("input"));
  };

  it("offers INSI-AUTO / INSI-MANU or a free name for ORG, with a help sentence, and sends the choice", async () => {
    const calls: [string, unknown][] = [];
    setInvoke(async (cmd, args) => {
      calls.push([cmd, args]);
      return { id: "v1", out: "/tmp/insi.csr", subject: "CN=INSI-MANU,OU=123456789,O=Clinique,ST=Paris (75),C=FR", deadline: null };
    });
    const { w, submit } = toInformation("ORG", "AUTH_CLI");
    const legend = w.querySelector("fieldset.cn-kind legend")?.textContent;
    expect(legend).toBe("Nom du service applicatif (cn)");
    expect(w.querySelector("#cn-kind-help")?.textContent).toContain("exactement INSI-AUTO ou INSI-MANU");
    expect(w.querySelector("label[for=cn-insi-auto]")?.textContent).toContain("INSI-AUTO");
    // Free name by default: the cn field is shown and a near-miss of INSi is refused on the spot.
    const cnField = w.querySelector("[name=cn]")!.closest(".field") as HTMLElement;
    expect(cnField.hidden).toBe(false);
    expect(w.querySelector(`label[for=${(w.querySelector("[name=cn]") as HTMLElement).id}]`)?.textContent).toContain("Service applicatif (cn)");
    for (const [f, v] of [
      ["cn", "INSI-AUT"],
      ["ou", "123456789"],
      ["o", "Clinique"],
      ["st", "Paris (75)"],
    ])
      type(w, f, v);
    submit();
    expect(w.querySelector("[role=alert]")?.textContent).toContain("exactement INSI-AUTO ou INSI-MANU");
    expect(document.activeElement?.getAttribute("name")).toBe("cn");
    // Choosing INSI-MANU hides the free name (the cn is the choice) and the step passes.
    (w.querySelector("#cn-insi-manu") as HTMLInputElement).click();
    expect(cnField.hidden).toBe(true);
    submit();
    expect(w.querySelector("dl.summary")?.textContent).toContain("INSI-MANU");
    type(w, "csr-out", "/tmp/insi.csr");
    submit();
    await tick();
    await tick();
    expect(calls).toHaveLength(1);
    const [cmd, args] = calls[0] as [string, { req: Record<string, unknown> }];
    expect(cmd).toBe("csr_igc_new");
    expect(args.req).toMatchObject({ offer: "ORG", usage: "AUTH_CLI", cn: null, insi: "INSI-MANU", ou: "123456789", out: "/tmp/insi.csr" });
    expect(w.querySelector("[data-testid=csr-done]")?.textContent).toContain("/tmp/insi.csr");
  });

  it("asks a person's offer for the national id, with no INSi choice", () => {
    const { w } = toInformation("PS", "AUTH");
    expect(w.querySelector("fieldset.cn-kind")).toBeNull();
    const cn = w.querySelector("[name=cn]") as HTMLElement;
    expect(w.querySelector(`label[for=${cn.id}]`)?.textContent).toContain("Identifiant national");
  });

  it("shows the core's refusal, rule named, when the core disagrees", async () => {
    setInvoke(async () => {
      throw { code: "csr.rule", message: "Demande refusée (règle IGC-Santé « insi_cn ») : … Rien n'a été créé." };
    });
    const { w, submit } = toInformation("SERV", "SIGN");
    for (const [f, v] of [
      ["cn", "Portail"],
      ["ou", "1"],
      ["o", "C"],
      ["st", "Paris (75)"],
      ["email", "a@b.fr"],
    ])
      type(w, f, v);
    submit();
    type(w, "csr-out", "/tmp/x.csr");
    submit();
    await tick();
    await tick();
    expect(w.querySelector("[role=alert]")?.textContent).toContain("insi_cn");
    expect(w.querySelector("[role=alert] small")?.textContent).toBe("Code : csr.rule");
  });
});

describe("Certificats en attente: installing a .p12", () => {
  const summary = {
    holder: "Jeanne Dupont",
    issuer_name: "eSanté myCert CA",
    subject: "CN=Jeanne Dupont",
    issuer: "CN=eSanté myCert CA",
    serial: "01",
    not_before: "2026-01-01T00:00:00Z",
    not_after: "2027-12-31T00:00:00Z",
    days_left: 400,
    sha256: "ab".repeat(32),
    key_usage: [],
    ext_key_usage: [],
    encryption_capable: true,
    is_ca: false,
    has_private_key: true,
  };

  async function page(answer: (cmd: string, req: unknown) => unknown) {
    const calls: [string, unknown][] = [];
    setInvoke(async (cmd, args) => {
      const req = (args as { req: unknown }).req;
      calls.push([cmd, req]);
      if (cmd === "pending_list") return [];
      if (cmd === "capabilities") return caps;
      return answer(cmd, req);
    });
    const el = await pendingPage();
    document.body.appendChild(el);
    return { el, calls: () => calls.filter(([c]) => c !== "pending_list" && c !== "capabilities") };
  }
  const fill = (el: HTMLElement, path: string, pw: string) => {
    (el.querySelector("input[name=mycert-path]") as HTMLInputElement).value = path;
    (el.querySelector("input[name=mycert-password]") as HTMLInputElement).value = pw;
    el.querySelector("form:has(input[name=mycert-path])")!.dispatchEvent(new Event("submit", { cancelable: true }));
  };

  it("checks the password with p12_inspect first and installs nothing when it is wrong", async () => {
    const { el, calls } = await page((cmd) => {
      if (cmd === "p12_inspect")
        throw { code: "pkcs12.wrong_password", message: "Mot de passe incorrect pour ce fichier .p12 : vérifiez-le (majuscules comprises). Rien n'a été installé." };
      throw new Error(`unexpected ${cmd}`);
    });
    expect(el.textContent).toContain("Installer un fichier .p12 reçu");
    expect(el.querySelector(`label[for=${el.querySelector("input[name=mycert-password]")!.id}]`)?.textContent).toBe("Mot de passe");
    fill(el, "/home/j/myCert.p12", "mauvais");
    await tick();
    await tick();
    expect(calls().map(([c]) => c)).toEqual(["p12_inspect"]);
    const err = el.querySelector("[data-testid=pending-p12-status] [role=alert]");
    expect(err?.textContent).toContain("Mot de passe incorrect");
    expect(err?.querySelector("small")?.textContent).toBe("Code : pkcs12.wrong_password");
    expect((el.querySelector("input[name=mycert-password]") as HTMLInputElement).value).toBe("");
  });

  it("then installs and lists what the file held", async () => {
    const { el, calls } = await page((cmd) => {
      if (cmd === "p12_inspect") return { certificates: [summary], keys: 1 };
      if (cmd === "p12_import") return { store: "NSS", installed: 2, already_present: false, sha256: summary.sha256 };
      throw new Error(`unexpected ${cmd}`);
    });
    fill(el, " /home/j/myCert.p12 ", "Secret-123!");
    await tick();
    await tick();
    await tick();
    expect(calls()).toEqual([
      ["p12_inspect", { path: "/home/j/myCert.p12", password: "Secret-123!" }],
      ["p12_import", { path: "/home/j/myCert.p12", password: "Secret-123!" }],
    ]);
    const ok = el.querySelector("[data-testid=pending-p12-status] .ok-box")!;
    expect(ok.textContent).toContain("Installé : 2 élément(s) ajouté(s) au magasin.");
    expect(ok.querySelector("li")?.textContent).toContain("Jeanne Dupont — eSanté myCert CA — 31/12/2027");
    expect(ok.querySelector("li")?.textContent).toContain("avec sa clé privée");
  });
});
