// The sandbox portal's page in headless Chromium (Debian's /usr/bin/chromium through playwright-core; no browser is
// downloaded): an agent logs in, checks a pairing request on the approval page, and sees "Etat de Mon Assistant"
// switch to "Connecté" when `trousseau portal run` starts and back to "Déconnecté" when it stops. axe-core runs on
// every page and fails the check on serious or critical violations.
//
// usage: node check.mjs TROUSSEAU_BIN SANDBOX_BIN WORKDIR   (TROUSSEAU_HOME / TROUSSEAU_NSSDB come from the caller)
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const [trousseau, sandbox, work] = process.argv.slice(2);
if (!trousseau || !sandbox || !work) {
  console.error('usage: node check.mjs TROUSSEAU_BIN SANDBOX_BIN WORKDIR');
  process.exit(2);
}
const AGENT = 'agent.page';
const children = [];
const fail = (msg) => { console.error('FAIL: ' + msg); cleanup(); process.exit(1); };
const pass = (msg) => console.log('PASS: ' + msg);
function cleanup() { for (const c of children) { try { c.kill('SIGKILL'); } catch (_) {} } }

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function firstLine(child) {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (l) => resolve(l));
    child.once('exit', (code) => reject(new Error('exited with ' + code)));
  });
}

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const db = `${work}/portal.sqlite`;
const sb = spawn(sandbox, ['serve', '--listen', `127.0.0.1:${port}`, '--db', db, '--name', 'PMP bac à sable'], { stdio: ['ignore', 'pipe', 'inherit'] });
children.push(sb);
await firstLine(sb);

// pairing by device code, approved by script
const pair = spawn(trousseau, ['--json', 'portal', 'pair', url, '--device-name', 'poste-playwright'], { stdio: ['ignore', 'pipe', 'inherit'] });
children.push(pair);
// Listened to from the start: the assistant may finish pairing (and exit) before the page shows the result, and an
// 'exit' event that fired before anyone listened is never delivered again.
const pairExit = new Promise((resolve) => pair.once('exit', resolve));
const first = JSON.parse(await firstLine(pair));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ locale: 'fr-FR' });
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
async function axe(name) {
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) fail(`axe on ${name}: ` + bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(' ')}`).join('; '));
  pass(`axe-core: no serious or critical violation on ${name}`);
}

try {
  await page.goto(`${url}/appairage?code=${first.user_code}`);
  await page.fill('#login', AGENT);
  await Promise.all([page.waitForURL(/appairage/), page.click('button[type=submit]')]);
  const name = await page.textContent('#client-name');
  if (name !== 'poste-playwright') fail('approval page shows the assistant name, got ' + name);
  if (!(await page.textContent('#client-addr')).includes('127.0.0.1')) fail('approval page shows the address');
  if (!(await page.textContent('#client-time')).match(/\d\d\/\d\d\/\d{4}/)) fail('approval page shows the request time');
  pass('approval page shows the assistant name, OS, address and request time');
  await axe('/appairage');
  await Promise.all([page.waitForLoadState(), page.click('button[value=approuver]')]);
  await page.waitForSelector('text=Assistant associé');
  const code = await Promise.race([pairExit, new Promise((resolve) => setTimeout(() => resolve('still running after 30 s'), 30000))]);
  if (code !== 0) fail(`pairing did not complete (trousseau portal pair: ${code})`);
  pass('pairing approved on the page');

  await page.goto(`${url}/cles`);
  const etat = page.locator('#etat-assistant');
  if ((await etat.textContent()) !== 'Déconnecté') fail('assistant not running: page must say Déconnecté');
  pass('Etat de Mon Assistant : Déconnecté');
  await axe('/cles');

  const run = spawn(trousseau, ['--json', 'portal', 'run', '--yes'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TROUSSEAU_PKCS11_SYSTEM: '0' } });
  children.push(run);
  const t0 = Date.now();
  await page.waitForFunction(() => document.getElementById('etat-assistant').textContent === 'Connecté', null, { timeout: 15000 });
  pass(`Etat de Mon Assistant : Connecté (${Date.now() - t0} ms after the assistant started)`);

  // the wizard lists the workstation's bi-clés through the assistant
  await page.goto(`${url}/cles/ajouter`);
  await page.fill('#designation', 'Jean Dupont 2025');
  await page.click('#suivant1');
  await page.click('#suivant2');
  await page.waitForSelector('#liste table, #liste p', { timeout: 15000 });
  const liste = await page.textContent('#liste');
  if (!liste.includes('Agent Page')) fail('wizard step 3 lists the workstation certificate, got: ' + liste);
  pass('wizard step 3 lists the workstation certificate via the assistant');
  await axe('/cles/ajouter (step 3)');
  await Promise.all([page.waitForURL(/\/cles$/, { timeout: 15000 }), page.click('#valider')]);
  const tables = await page.textContent('main');
  if (!tables.includes('Jean Dupont 2025') || !tables.includes('Agent Page')) fail('registered bi-clé shown in the table');
  pass('bi-clé registered from the page and shown in "Gestion des bi-clés personnels"');

  run.kill('SIGTERM');
  const t1 = Date.now();
  await page.waitForFunction(() => document.getElementById('etat-assistant').textContent === 'Déconnecté', null, { timeout: 15000 });
  pass(`Etat de Mon Assistant : Déconnecté (${Date.now() - t1} ms after the assistant stopped)`);
  mkdirSync(`${work}/shots`, { recursive: true });
  await page.screenshot({ path: `${work}/shots/cles.png`, fullPage: true });
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await browser.close();
  cleanup();
}
console.log('portal page check: all passed');
