// End-to-end tests of the desktop app in a real window (tauri-driver + WebKitWebDriver under Xvfb).
// Usage: node tests/desktop-e2e/run.mjs BINARY WORKDIR   (scripts/checks/desktop-e2e.sh prepares WORKDIR:
// a temporary TROUSSEAU_HOME, an NSS database and a .p12 fixture with its password in WORKDIR/p12-password).
//
// Every page is opened, screenshotted into docs/screenshots/ and checked with axe-core (serious or critical
// violations fail). Flows: .p12 import into the NSS DB (wrong password first: nothing changes), the password
// meter, the IGC-Santé wizard, the language switch, and the window lifecycle (closing destroys the webview while
// the app stays in the tray; a second launch brings the window back).

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WebDriver } from "./webdriver.mjs";
import { virtualCard } from "./vcard.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const [binary, work] = process.argv.slice(2).map((p) => path.resolve(p));
const shots = path.join(root, "docs/screenshots");
const axeSource = fs.readFileSync(path.join(root, "ui/node_modules/axe-core/axe.min.js"), "utf8");
fs.mkdirSync(shots, { recursive: true });


const results = [];
let failed = 0;
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed += 1;
    results.push(`FAIL ${name}: ${e.message}`);
  }
  console.log(results[results.length - 1]);
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// ---- process tree helpers (/proc) ----
function procs() {
  const out = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      let exe = "";
      try {
        exe = fs.readlinkSync(`/proc/${d}/exe`);
      } catch {}
      out.push({ pid: Number(d), ppid, comm, exe });
    } catch {}
  }
  return out;
}
function descendants(pid, all = procs()) {
  const kids = all.filter((p) => p.ppid === pid);
  return kids.concat(...kids.map((k) => descendants(k.pid, all)));
}
/** The app's own processes: the PKCS#11 module helpers run the same executable (`__pkcs11-helper-N MODULE`) and stay
 * up between calls, so they are not instances of the app. */
function appPids() {
  const helper = (pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").some((a) => a.startsWith("__pkcs11-helper"));
    } catch {
      return false;
    }
  };
  return procs()
    .filter((p) => p.exe === binary && !helper(p.pid))
    .map((p) => p.pid);
}
function webProcesses(pid) {
  return descendants(pid).filter((p) => /WebKitWebProces|WebKitWebProcess/.test(p.comm) || /WebKitWebProcess/.test(p.exe));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, what, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await sleep(200);
  }
  throw new Error(`timed out: ${what}`);
}

// ---- start tauri-driver ----
const driver = spawn("tauri-driver", ["--port", "4444", "--native-port", "4445"], { stdio: ["ignore", "inherit", "inherit"] });
await until(async () => (await fetch("http://127.0.0.1:4444/status").catch(() => null))?.ok, "tauri-driver", 20000).catch(() => {});
const wd = new WebDriver();
const ready = "return document.querySelector('main[data-ready=true]') !== null";

async function open(route) {
  // Setting the same hash fires no hashchange: dispatch one so the page is rendered again.
  await wd.exec(
    `document.querySelector('main')?.removeAttribute('data-ready');
     if (location.hash === '#/${route}') window.dispatchEvent(new HashChangeEvent('hashchange')); else location.hash = '#/${route}';
     return true`,
  );
  await wd.waitFor(ready, `page ${route}`);
}

async function axeCheck(label) {
  const loaded = await wd.exec("return typeof window.axe !== 'undefined'");
  if (!loaded) await wd.exec(`${axeSource}\n;return true;`);
  const json = await wd.execAsync(
    `const done = arguments[arguments.length - 1];
     axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
       .then((r) => done(JSON.stringify(r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) })))))
       .catch((e) => done(JSON.stringify([{ id: "axe-error", impact: "critical", help: String(e), nodes: [] }])));`,
  );
  const violations = JSON.parse(json);
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of violations) console.log(`     axe ${label}: ${v.impact} ${v.id} — ${v.help} ${JSON.stringify(v.nodes)}`);
  assert(bad.length === 0, `${bad.length} serious/critical accessibility violation(s) on ${label}: ${bad.map((v) => v.id).join(", ")}`);
}

async function shot(name) {
  await wd.exec("window.scrollTo(0, 0); document.activeElement?.blur?.(); return true");
  const b64 = await wd.screenshot();
  fs.writeFileSync(path.join(shots, `${name}.png`), Buffer.from(b64, "base64"));
}

const PAGES = ["tableau-de-bord", "cartes", "magasin", "bicles", "demande", "attente", "pli", "diagnostic", "parametres"];

try {
  await step("session opens the Trousseau window", async () => {
    await wd.start(binary);
    await wd.waitFor(ready, "first page", 30000);
    const title = await wd.title();
    assert(/Trousseau/.test(title), `title ${title}`);
  });

  await step("header shows the state without a click", async () => {
    const txt = await wd.waitFor("return document.querySelector('[data-testid=header-state]')?.textContent", "header state");
    assert(/Déconnecté|Connecté/.test(txt), `header: ${txt}`);
  });

  await step(".p12 import: a wrong password changes nothing, the right one installs", async () => {
    await open("magasin");
    const p12 = path.join(work, "agent.p12");
    const pw = fs.readFileSync(path.join(work, "p12-password"), "utf8").trim();
    await wd.type(await wd.find("input[name=p12-path]"), p12);
    await wd.type(await wd.find("input[name=p12-password]"), "mauvais-mot-de-passe");
    await wd.click(await wd.find("form:has(input[name=p12-path]) button[type=submit]"));
    const err = await wd.waitFor("return document.querySelector('[data-testid=import-status] .error')?.textContent", "wrong-password error");
    assert(/pkcs12\.|store\./.test(err), `error shows its code: ${err}`);
    await shot("magasin-erreur-mot-de-passe");
    const listed = await wd.exec("return document.querySelectorAll('tbody tr').length");
    assert(listed === 0, `the wrong password installed nothing (rows: ${listed})`);
    await wd.type(await wd.find("input[name=p12-path]"), p12);
    await wd.type(await wd.find("input[name=p12-password]"), pw);
    await wd.click(await wd.find("form:has(input[name=p12-path]) button[type=submit]"));
    await wd.waitFor("return document.querySelector('[data-testid=import-status] .ok')?.textContent", "import ok", 30000);
    await wd.waitFor("return [...document.querySelectorAll('tbody th')].some((th) => th.textContent.includes('Agent Trousseau E2E'))", "certificate listed", 20000);
  });

  await step("Ouvrir un pli: a bid encrypted by OpenSSL to the imported certificate is examined, then opened into a folder", async () => {
    await open("pli");
    await wd.type(await wd.find("input[name=envelope-path]"), path.join(work, "offre.txt.p7m"));
    await wd.click(await wd.find("button[name=envelope-examine]"));
    const details = await wd.waitFor("return document.querySelector('[data-testid=envelope-details] .ok, [data-testid=envelope-details] .error')?.closest('[data-testid=envelope-details]')?.textContent", "recipients shown");
    assert(/aes-256-gcm/.test(details) && /clé dans le magasin de ce poste \(Agent Trousseau E2E\)/.test(details) && /Ce poste peut ouvrir ce pli/.test(details), `details: ${details}`);
    const outDir = path.join(work, "plis");
    fs.mkdirSync(outDir, { recursive: true });
    await wd.type(await wd.find("input[name=envelope-out]"), outDir);
    await shot("pli");
    await wd.click(await wd.find("form:has(input[name=envelope-path]) button[type=submit]"));
    const done = await wd.waitFor("return document.querySelector('[data-testid=envelope-status] .ok, [data-testid=envelope-status] .error')?.textContent", "envelope opened", 30000);
    assert(/Pli ouvert/.test(done), `open: ${done}`);
    assert(fs.readFileSync(path.join(outDir, "offre.txt"), "utf8") === fs.readFileSync(path.join(work, "offre.txt"), "utf8"), "content as encrypted");
    await axeCheck("pli after opening");
    await open("magasin"); // the next steps continue on the store page
  });

  await step("export: the strength meter lists every unmet rule (core password_check)", async () => {
    await wd.type(await wd.find("form:has(select[name=export-policy]) input[type=password]"), "abc");
    const n = await wd.waitFor("return document.querySelectorAll('.pw-feedback li').length", "unmet rules");
    assert(n >= 2, `unmet rules listed: ${n}`);
  });

  await step("export to .p12 (legacy 3DES for an old importer) after the password passes the policy; install a CA", async () => {
    await open("magasin");
    await wd.exec("const s = document.querySelector('select[name=export-dest]'); s.value = 'legacy'; s.dispatchEvent(new Event('change')); return true");
    await wd.type(await wd.find("form:has(select[name=export-policy]) input[type=password]"), "Cheval-Agrafe-Batterie-42!");
    await wd.waitFor("return document.querySelector('.pw-feedback .ok') !== null", "password accepted");
    await wd.type(await wd.find("input[name=export-path]"), path.join(work, "export.p12"));
    await wd.click(await wd.find("form:has(select[name=export-policy]) button[type=submit]"));
    const exp = await wd.waitFor("return document.querySelector('[data-testid=export-status] .ok, [data-testid=export-status] .error')?.textContent", "export done", 30000);
    assert(fs.existsSync(path.join(work, "export.p12")), `export.p12 written (${exp})`);
    await wd.type(await wd.find("input[name=ca-path]"), path.join(work, "ca.pem"));
    await wd.click(await wd.find("form:has(input[name=ca-path]) button[type=submit]"));
    const ca = await wd.waitFor("return document.querySelector('[data-testid=ca-status] .ok, [data-testid=ca-status] .error')?.textContent", "CA installed", 30000);
    assert(/Installé/.test(ca), `CA: ${ca}`);
    const row = "[...document.querySelectorAll('tbody tr')].find((tr) => tr.textContent.includes('AC de test IGC-SANTE E2E'))";
    await wd.waitFor(`return !!${row}`, "CA listed in the store");
    // Removal asks first: Annuler keeps it, Confirmer removes it.
    await wd.exec(`${row}.querySelector('button.danger').click(); return true`);
    await wd.waitFor("return document.querySelector('dialog[open]') !== null", "confirmation dialog");
    await shot("magasin-confirmation-suppression");
    await wd.click(await wd.find("dialog[open] button:not(.danger)"));
    assert(await wd.exec(`return !!${row}`), "cancel keeps the certificate");
    await wd.exec(`${row}.querySelector('button.danger').click(); return true`);
    await wd.waitFor("return document.querySelector('dialog[open]') !== null", "confirmation dialog again");
    await wd.click(await wd.find("dialog[open] button.danger"));
    await wd.waitFor(`return !${row}`, "CA removed from the list", 30000);
  });

  await step("IGC-Santé wizard: offre → usage → informations → CSR", async () => {
    await open("demande");
    await wd.click(await wd.find("#offer-PS"));
    await wd.click(await wd.find(".wizard button[type=submit]"));
    await wd.waitFor("return document.querySelector('#usage-AUTH') !== null", "usage step");
    await wd.click(await wd.find("#usage-SIGN"));
    await wd.click(await wd.find(".wizard button[type=submit]"));
    await wd.waitFor("return document.querySelector('input[name=cn]') !== null", "information step");
    await wd.click(await wd.find(".wizard button[type=submit]"));
    await wd.waitFor("return document.querySelector('.wizard [role=alert]') !== null", "required-field errors");
    for (const [f, v] of [["cn", "810012345678"], ["sn", "Dupont"], ["gn", "Jeanne"], ["title", "Médecin"], ["email", "jeanne.dupont@exemple.fr"]]) {
      await wd.type(await wd.find(`input[name=${f}]`), v);
    }
    await wd.click(await wd.find(".wizard button[type=submit]"));
    await wd.waitFor("return document.querySelector('.wizard dl.summary')?.textContent.includes('Dupont')", "summary step");
    await wd.type(await wd.find("input[name=csr-out]"), path.join(work, "demande.csr"));
    await shot("demande-recapitulatif");
    await wd.click(await wd.find(".wizard button[type=submit]"));
    const done = await wd.waitFor(
      "return document.querySelector('[data-testid=csr-done]')?.textContent || document.querySelector('.wizard .error')?.textContent",
      "CSR generated",
      60000,
    );
    assert(/demande\.csr/.test(done), `CSR result: ${done}`);
    assert(fs.existsSync(path.join(work, "demande.csr")), "CSR file written");
    await open("attente");
    const pending = await wd.waitFor("return document.querySelector('main ul.plain')?.textContent", "pending request listed");
    assert(/IGC-Santé PS — SIGN/.test(pending) && /à retirer avant le/.test(pending), `pending: ${pending}`);
    // The platform's answer, simulated with OpenSSL: a certificate for the CSR, signed by a test CA.
    const withdrawn = path.join(work, "retire.cer");
    const sign = spawn("openssl", ["x509", "-req", "-in", path.join(work, "demande.csr"), "-CA", path.join(work, "ca.pem"), "-CAkey", path.join(work, "ca.key"), "-CAcreateserial", "-days", "365", "-out", withdrawn], { stdio: "inherit" });
    assert((await new Promise((r) => sign.on("exit", r))) === 0, "openssl signed the CSR");
    await wd.type(await wd.find("input[name=withdrawn-path]"), withdrawn);
    await wd.click(await wd.find("form:has(input[name=withdrawn-path]) button[type=submit]"));
    const installed = await wd.waitFor(
      "return document.querySelector('[data-testid=pending-status] .ok, [data-testid=pending-status] .error')?.textContent",
      "withdrawn certificate installed",
      30000,
    );
    assert(/installé avec sa clé privée/.test(installed), `install: ${installed}`);
    await open("attente");
    const after = await wd.waitFor("return document.querySelector('main section p, main ul.plain')?.textContent", "pending list after install");
    assert(/Aucune demande/.test(after), `pending after install: ${after}`);
  });

  await step("Certificats en attente: a .p12 received (myCert) installs only after its password is checked", async () => {
    // A myCert-like .p12 made here: a new key and certificate, the password handed to OpenSSL through a file.
    const pwFile = path.join(work, "mycert-password");
    fs.writeFileSync(pwFile, `MyCert-${process.pid}-E2e!`, { mode: 0o600 });
    const openssl = (args) => new Promise((r) => spawn("openssl", args, { stdio: "inherit" }).on("exit", r));
    const [key, cert, p12] = ["mycert.key", "mycert.pem", "mycert.p12"].map((f) => path.join(work, f));
    assert((await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=Praticien myCert E2E/O=eSante E2E/C=LU"])) === 0, "openssl made the certificate");
    assert((await openssl(["pkcs12", "-export", "-inkey", key, "-in", cert, "-name", "Praticien myCert E2E", "-out", p12, "-passout", `file:${pwFile}`])) === 0, "openssl made the .p12");
    await open("attente");
    const submit = "form:has(input[name=mycert-path]) button[type=submit]";
    await wd.type(await wd.find("input[name=mycert-path]"), p12);
    await wd.type(await wd.find("input[name=mycert-password]"), "mauvais-mot-de-passe");
    await wd.click(await wd.find(submit));
    const err = await wd.waitFor("return document.querySelector('[data-testid=pending-p12-status] .error')?.textContent", "wrong-password error", 30000);
    assert(/pkcs12\./.test(err), `the core's sentence with its code: ${err}`);
    await wd.type(await wd.find("input[name=mycert-password]"), fs.readFileSync(pwFile, "utf8"));
    await wd.click(await wd.find(submit));
    const ok = await wd.waitFor("return document.querySelector('[data-testid=pending-p12-status] .ok-box')?.textContent", "myCert installed", 30000);
    // "Installé" (not "Déjà installé"): the wrong password before installed nothing.
    assert(/^Installé/.test(ok) && /Praticien myCert E2E/.test(ok) && /avec sa clé privée/.test(ok), `result: ${ok}`);
    // The result is below the fold: screenshot it in view.
    await wd.exec("document.querySelector('[data-testid=pending-p12-status]').scrollIntoView({ block: 'end' }); document.activeElement?.blur?.(); return true");
    fs.writeFileSync(path.join(shots, "attente-p12.png"), Buffer.from(await wd.screenshot(), "base64"));
    await axeCheck("attente after a .p12 installation");
    await open("magasin");
    await wd.waitFor("return [...document.querySelectorAll('tbody th')].some((th) => th.textContent.includes('Praticien myCert E2E'))", "myCert listed in the store", 20000);
  });

  await step("IGC-Santé wizard, ORG: the INSi choice (INSI-AUTO / INSI-MANU) or a free service name", async () => {
    await open("demande");
    await wd.click(await wd.find("#offer-ORG"));
    await wd.click(await wd.find(".wizard button[type=submit]"));
    await wd.waitFor("return document.querySelector('#usage-AUTH_CLI') !== null", "usage step");
    await wd.click(await wd.find(".wizard button[type=submit]"));
    await wd.waitFor("return document.querySelector('fieldset.cn-kind') !== null", "INSi choice");
    await wd.click(await wd.find("#cn-insi-auto"));
    const shown = await wd.exec("return getComputedStyle(document.querySelector('input[name=cn]').closest('.field')).display");
    assert(shown === "none", `with INSI-AUTO the free service name is not shown (display: ${shown})`);
    await shot("demande-insi");
    await axeCheck("demande, ORG information step");
    for (const [f, v] of [["ou", "123456789"], ["o", "Clinique E2E"], ["st", "Paris (75)"]]) await wd.type(await wd.find(`input[name=${f}]`), v);
    await wd.click(await wd.find(".wizard button[type=submit]"));
    const summary = await wd.waitFor("return document.querySelector('.wizard dl.summary')?.textContent", "summary step");
    assert(/INSI-AUTO/.test(summary), `summary: ${summary}`);
  });

  await step("generic request: subject and e-mail, CSR written", async () => {
    await open("demande");
    await wd.type(await wd.find("input[name=generic-subject]"), "CN=Jean Dupont,O=Cabinet Dupont,C=LU");
    await wd.type(await wd.find("input[name=generic-emails]"), "jean.dupont@exemple.lu");
    await wd.type(await wd.find("input[name=generic-out]"), path.join(work, "generique.csr"));
    await wd.click(await wd.find("form:has(input[name=generic-subject]) button[type=submit]"));
    const r = await wd.waitFor("return document.querySelector('[data-testid=generic-status] .ok, [data-testid=generic-status] .error')?.textContent", "generic CSR", 60000);
    assert(/generique\.csr/.test(r), `generic: ${r}`);
  });

  await step("a virtual LuxTrust card inserted then removed: header, tray line and Cartes page follow", async () => {
    assert(process.env.VPCD_PORT, "VPCD_PORT set by desktop-e2e.sh");
    await open("cartes");
    const card = virtualCard(Number(process.env.VPCD_PORT), "3B 7F 96 00 00 80 31 80 65 B0 85 05 00 11 12 0F FF 82 90 00");
    try {
      try {
        await wd.waitFor("return document.querySelector('[data-testid=header-state]')?.textContent.includes('Carte insérée : LuxTrust')", "header shows the card", 30000);
      } catch (e) {
        // Say where it stopped: the virtual card, pcscd (what the core lists now) or the window's update.
        const listed = await wd.execAsync("const done = arguments[arguments.length - 1]; window.__TAURI_INTERNALS__.invoke('cards_list', { req: null, lang: 'fr' }).then((r) => done(JSON.stringify(r)), (e) => done(String(e)));").catch((x) => String(x));
        throw new Error(`${e.message}; ${card.describe()}; cards_list now: ${listed}`);
      }
      const tray = await wd.execAsync("const done = arguments[arguments.length - 1]; window.__TAURI_INTERNALS__.invoke('shell_tray_lines').then(done, (e) => done(String(e)));");
      assert(Array.isArray(tray) && tray[1].startsWith("Carte insérée : LuxTrust"), `tray card line: ${JSON.stringify(tray)}`);
      await open("cartes");
      const txt = await wd.waitFor("return document.querySelector('main table')?.textContent", "readers table");
      assert(/LuxTrust/.test(txt) && /3B7F96/.test(txt), `cards page: ${txt}`);
      await shot("cartes-luxtrust");
    } finally {
      card.destroy();
    }
    await wd.waitFor("return document.querySelector('[data-testid=header-state]')?.textContent.includes('Aucune carte')", "header after removal", 30000);
  });

  await step("Cartes et jetons: the SoftHSM2 token with its PIN state", async () => {
    await open("cartes");
    // The tokens are read in the background after the card's removal: the page redraws itself when they are.
    const txt = await wd.waitFor("const t = document.querySelector('main')?.textContent ?? ''; return /Jeton E2E/.test(t) && t", "the token on the cards page");
    assert(/Jeton E2E/.test(txt), `token listed: ${txt.slice(0, 300)}`);
    // Its certificate, read without the PIN: holder, use (signature that can also encrypt), key on the card.
    const row = await wd.waitFor(
      "const t = [...document.querySelectorAll('table[data-testid=token-certs]')].find((x) => x.querySelector('caption')?.textContent === 'Certificats sur « Jeton E2E »'); return t?.querySelector('tbody tr')?.textContent",
      "the token's certificate table",
    );
    assert(/Carte Agent E2E/.test(row) && /Signature, chiffrement possible/.test(row) && /utilisable comme bi-clé/.test(row), `certificate row: ${row}`);
    await shot("cartes-certificats");
  });

  for (const page of PAGES) {
    await step(`page ${page}: screenshot and axe-core`, async () => {
      await open(page);
      await sleep(300);
      await shot(page);
      await axeCheck(page);
    });
  }

  await step("keyboard only: Tab reaches the skip link, then the navigation; Enter opens a page", async () => {
    await open("tableau-de-bord");
    await wd.exec("document.activeElement?.blur?.(); window.focus(); return true");
    await wd.keys("\uE004");
    const first = await wd.exec("return document.activeElement?.className + '|' + document.activeElement?.textContent");
    assert(/skip/.test(first), `first Tab stop is the skip link: ${first}`);
    await wd.keys("\uE004", "\uE004");
    const nav = await wd.exec("return document.activeElement?.getAttribute('href')");
    assert(nav === "#/cartes", `two Tabs after the skip link: the second section link (${nav})`);
    await wd.keys("\uE007");
    await wd.waitFor("return location.hash === '#/cartes' && document.querySelector('main[data-ready=true]') !== null", "page opened with Enter");
  });

  await step("text at 200 %: no horizontal scrolling, still accessible", async () => {
    await wd.exec("document.documentElement.style.fontSize = '200%'; return true");
    for (const page of ["tableau-de-bord", "magasin", "demande"]) {
      await open(page);
      await sleep(200);
      const overflow = await wd.exec(
        "const w = document.documentElement.scrollWidth - window.innerWidth; if (w <= 1) return [w, null]; const wide = [...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).slice(-3).map((e) => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)); return [w, wide];",
      );
      assert(overflow[0] <= 1, `${page} at 200 %: ${overflow[0]}px of horizontal scrolling (${JSON.stringify(overflow[1])})`);
      await axeCheck(`${page} at 200 %`);
    }
    await shot("texte-200-pourcent");
    await wd.exec("document.documentElement.style.fontSize = ''; return true");
  });

  await step("language: English then back to French", async () => {
    await open("parametres");
    await wd.exec("const s = document.querySelector('main select'); s.value = 'en'; s.dispatchEvent(new Event('change')); return true");
    await wd.click(await wd.find("main form button[type=submit]"));
    await wd.waitFor("return document.querySelector('nav a[href=\"#/tableau-de-bord\"]')?.textContent === 'Dashboard'", "English navigation");
    const settings = JSON.parse(fs.readFileSync(path.join(work, "home/config/desktop.json"), "utf8"));
    assert(settings.lang === "en" && settings.autostart === false, `settings file: ${JSON.stringify(settings)}`);
    await wd.exec("const s = document.querySelector('main select'); s.value = 'fr'; s.dispatchEvent(new Event('change')); return true");
    await wd.click(await wd.find("main form button[type=submit]"));
    await wd.waitFor("return document.querySelector('nav a[href=\"#/tableau-de-bord\"]')?.textContent === 'Tableau de bord'", "French navigation");
  });

  await step("pairing with the sandbox portal; the tray follows the channel (Connecté / Déconnecté / Connecté)", async () => {
    const sandboxBin = process.env.SANDBOX_BIN;
    const port = process.env.SANDBOX_PORT;
    assert(sandboxBin && port, "SANDBOX_BIN and SANDBOX_PORT set by desktop-e2e.sh");
    const db = path.join(work, "portal.sqlite");
    const serve = () => spawn(sandboxBin, ["serve", "--listen", `127.0.0.1:${port}`, "--db", db, "--heartbeat-timeout", "5"], { stdio: "ignore" });
    let portal = serve();
    try {
      await until(async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null)) !== null, "sandbox up");
      await open("bicles");
      await wd.click(await wd.find("form:has(input[name=portal-url]) button[type=submit]"));
      const code = await wd.waitFor("return document.querySelector('[data-testid=pair-code]')?.textContent", "pairing code", 20000);
      await shot("bicles-code");
      const approve = spawn(sandboxBin, ["approve", code, "--agent", "agent.e2e", "--db", db], { stdio: "inherit" });
      const rc = await new Promise((r) => approve.on("exit", r));
      assert(rc === 0, `sandbox approve exited ${rc}`);
      const lines = "return window.__TAURI_INTERNALS__.invoke('shell_tray_lines')";
      const trayConnected = async () => {
        const l = await wd.execAsync(`const done = arguments[arguments.length - 1]; window.__TAURI_INTERNALS__.invoke('shell_tray_lines').then(done, (e) => done(String(e)));`);
        return l;
      };
      void lines;
      await wd.waitFor("return document.querySelector('[data-testid=header-state]')?.textContent.includes('● Connecté — Portail de test (e2e)')", "header Connecté", 30000);
      let tray = await trayConnected();
      assert(Array.isArray(tray) && tray[0] === "● Connecté — Portail de test (e2e)", `tray menu line: ${JSON.stringify(tray)}`);
      // Register the imported certificate as personal and backup bi-clé; the agent confirms on the portal.
      await open("bicles");
      const offered = await wd.exec("return [...document.querySelectorAll('select[name=bicle-cert] option')].map((o) => o.textContent)");
      assert(offered.some((o) => o.startsWith("Carte Agent E2E") && o.includes("carte « Jeton E2E »")), `the card's certificate offered: ${JSON.stringify(offered)}`);
      await wd.click(await wd.find("#bicle-backup"));
      await wd.click(await wd.find("form:has(select[name=bicle-cert]) button[type=submit]"));
      const added = await wd.waitFor("return document.querySelector('[data-testid=bicle-status] .ok, [data-testid=bicle-status] .error')?.textContent", "bi-clé added", 30000);
      assert(/confirmez-le sur la page du portail/.test(added), `add: ${added}`);
      await wd.waitFor("return document.querySelectorAll('main tbody tr').length === 2", "two registry rows (personal + backup)", 15000);
      const confirm = spawn(sandboxBin, ["confirm", "--all", "--agent", "agent.e2e", "--db", db], { stdio: "inherit" });
      assert((await new Promise((r) => confirm.on("exit", r))) === 0, "sandbox confirm");
      await open("bicles");
      await wd.waitFor("return [...document.querySelectorAll('main tbody tr')].filter((tr) => tr.textContent.includes('actif')).length === 2", "both rows active", 15000);
      // A new bi-clé generated on this computer, registered as backup only.
      await wd.exec("document.querySelector('#bicle-generate').click(); document.querySelector('#bicle-personal').checked = false; document.querySelector('#bicle-backup').checked = true; return true");
      assert(await wd.exec("return document.querySelector('#bicle-generate').checked"), "generate chosen");
      await wd.type(await wd.find("input[name=bicle-designation]"), "Agent E2E secours 2026");
      await wd.click(await wd.find("form:has(select[name=bicle-cert]) button[type=submit]"));
      const gen = await wd.waitFor("return document.querySelector('[data-testid=bicle-status] .ok, [data-testid=bicle-status] .error')?.textContent", "generated bi-clé", 60000);
      assert(/confirmez-le/.test(gen), `generate: ${gen}`);
      await wd.waitFor("return [...document.querySelectorAll('main tbody tr')].some((tr) => tr.textContent.includes('Agent E2E secours 2026') && tr.textContent.includes('à confirmer'))", "generated bi-clé waiting for confirmation", 15000);
      await shot("bicles-associe");
      await axeCheck("bicles (paired)");
      await open("tableau-de-bord");
      await shot("tableau-de-bord-connecte");
      portal.kill("SIGTERM");
      await new Promise((r) => portal.on("exit", r));
      await wd.waitFor("return document.querySelector('[data-testid=header-state]')?.textContent.includes('○ Déconnecté')", "header Déconnecté", 30000);
      tray = await trayConnected();
      assert(tray[0] === "○ Déconnecté", `tray menu line after the portal stopped: ${JSON.stringify(tray)}`);
      portal = serve();
      await wd.waitFor("return document.querySelector('[data-testid=header-state]')?.textContent.includes('● Connecté')", "header Connecté again", 30000);
      tray = await trayConnected();
      assert(tray[0] === "● Connecté — Portail de test (e2e)", `tray menu line after reconnection: ${JSON.stringify(tray)}`);
    } finally {
      portal.kill("SIGTERM");
    }
  });

  await step("a trousseau://pair link (second launch) brings the running window to the pairing page", async () => {
    await open("tableau-de-bord");
    const link = spawn(binary, ["trousseau://pair?portal=http%3A%2F%2F127.0.0.1"], { stdio: "ignore", env: process.env });
    await new Promise((r) => link.on("exit", r));
    await wd.waitFor("return location.hash === '#/bicles' && document.querySelector('main[data-ready=true]') !== null", "pairing page after the link", 15000);
  });

  await step("closing the window destroys the webview; the app stays in the tray; a second launch reopens it", async () => {
    const [pid] = appPids();
    assert(pid, "app process found");
    const web = webProcesses(pid);
    assert(web.length >= 1, "a WebKit web process runs while the window is open");
    // The app chooses CPU painting before WebKit starts (src-tauri/src/memory.rs): the web process inherits it.
    if (!process.env.WEBKIT_SKIA_ENABLE_CPU_RENDERING) {
      const environ = fs.readFileSync(`/proc/${web[0].pid}/environ`, "utf8").split("\0");
      assert(environ.includes("WEBKIT_SKIA_ENABLE_CPU_RENDERING=1"), "the web process paints on the CPU (WEBKIT_SKIA_ENABLE_CPU_RENDERING=1)");
    }
    // Close as the user does (the window's close request), not through WebDriver, which would end the session.
    await wd.exec("window.__TAURI_INTERNALS__.invoke('plugin:window|close', { label: 'main' }); return true").catch(() => {});
    await until(() => webProcesses(pid).length === 0, "web process gone after close", 15000);
    // Past the memory release (2 s after the close, src-tauri/src/memory.rs): the window must reopen after it.
    await sleep(3000);
    assert(fs.existsSync(`/proc/${pid}`), "app still running in the tray");
    // A second launch hands over to the running instance (single-instance) and exits.
    const second = spawn(binary, [], { stdio: "ignore", env: process.env });
    await new Promise((r) => second.on("exit", r));
    await until(() => webProcesses(pid).length >= 1, "window recreated by the second launch", 20000);
    assert(appPids().length === 1, `one instance only: ${appPids()}`);
  });
} finally {
  await wd.end();
  for (const pid of descendants(driver.pid).filter((p) => p.exe === binary).map((p) => p.pid)) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
  }
  driver.kill("SIGTERM");
}

console.log(`\ndesktop e2e: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
