// The sandbox portal's page in headless Chromium (Debian's /usr/bin/chromium through playwright-core; no browser is
// downloaded): an agent logs in, checks a pairing request on the approval page, and sees "Etat de Mon Assistant"
// switch to "Connecté" when `trousseau portal run` starts and back to "Déconnecté" when it stops. Then a hostile
// assistant (a raw channel written here) answers with HTML in every field: nothing it sends becomes markup
// (`<b id=pwn>` shows literally, no #pwn element), inline scripts are blocked by the Content-Security-Policy, the
// page shows both assistants and which one answers, and a key it supplies waits for the agent's confirmation in a
// dialog naming issuer, fingerprint and device. axe-core runs on every page and fails the check on serious or
// critical violations.
//
// usage: node check.mjs TROUSSEAU_BIN SANDBOX_BIN WORKDIR   (TROUSSEAU_HOME / TROUSSEAU_NSSDB come from the caller)
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync, mkdirSync } from 'node:fs';
import { X509Certificate, randomBytes } from 'node:crypto';
import http from 'node:http';
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
  // evaluated through the DevTools protocol: the pages' CSP forbids inline scripts (addScriptTag would be blocked)
  await page.evaluate(axeSource);
  const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) fail(`axe on ${name}: ` + bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(' ')}`).join('; '));
  pass(`axe-core: no serious or critical violation on ${name}`);
}

// A paired assistant speaking the channel protocol directly (a minimal WebSocket client: text frames, masked), whose
// answers the check decides. `answer(op, params)` returns the reply's {ok, result|error}.
async function hostileAssistant(name, answer) {
  const form = (o) => new URLSearchParams(o).toString();
  const post = async (path, body) => (await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form(body) })).json();
  const auth = await post('/oauth/device_authorization', { client_id: 'trousseau', client_name: name, client_os: 'linux x86_64' });
  execFileSync(sandbox, ['approve', auth.user_code, '--agent', AGENT, '--db', db]);
  const tok = await post('/oauth/token', { client_id: 'trousseau', grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: auth.device_code });
  if (!tok.access_token) throw new Error('hostile pairing failed: ' + JSON.stringify(tok));
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/api/v1/channel`, { headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'), Authorization: 'Bearer ' + tok.access_token } });
    req.on('response', (res) => reject(new Error('channel refused: ' + res.statusCode)));
    req.on('error', reject);
    req.on('upgrade', (_res, socket) => {
      const frame = (op, text) => {
        const p = Buffer.from(text);
        const mask = randomBytes(4);
        let h;
        if (p.length < 126) h = Buffer.from([0x80 | op, 0x80 | p.length]);
        else if (p.length < 65536) { h = Buffer.alloc(4); h[0] = 0x80 | op; h[1] = 0x80 | 126; h.writeUInt16BE(p.length, 2); }
        else { h = Buffer.alloc(10); h[0] = 0x80 | op; h[1] = 0x80 | 127; h.writeBigUInt64BE(BigInt(p.length), 2); }
        socket.write(Buffer.concat([h, mask, p.map((b, i) => b ^ mask[i % 4])]));
      };
      const send = (v) => frame(0x1, JSON.stringify(v));
      const beat = setInterval(() => send({ type: 'heartbeat' }), 3000);
      let buf = Buffer.alloc(0);
      socket.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          if (buf.length < 2) return;
          const op = buf[0] & 0x0f;
          let len = buf[1] & 0x7f;
          let off = 2;
          if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
          else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
          if (buf.length < off + len) return;
          const payload = buf.subarray(off, off + len).toString();
          buf = buf.subarray(off + len);
          if (op === 0x9) frame(0xA, payload);
          if (op === 0x8) socket.end();
          if (op !== 0x1) continue;
          const m = JSON.parse(payload);
          if (m.type === 'request') send({ type: 'reply', id: m.id, ...answer(m.op, m.params) });
        }
      });
      socket.on('close', () => clearInterval(beat));
      resolve({ close: () => { clearInterval(beat); socket.destroy(); } });
    });
    req.end();
  });
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
  // a table, a "no certificate" paragraph, or an error message
  const listed = () => { const l = document.getElementById('liste'); return !!l.querySelector('table, p') || (l.textContent !== '' && !l.textContent.startsWith('Recherche')); };
  await page.waitForFunction(listed, null, { timeout: 15000 });
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

  // --- Content-Security-Policy: on every page, without 'unsafe-inline'; an injected inline script does not run
  for (const path of ['/cles', '/cles/ajouter', '/appairage', '/login']) {
    const csp = (await page.request.get(url + path)).headers()['content-security-policy'] || '';
    if (!csp.includes("script-src 'self'") || csp.includes('unsafe-inline')) fail(`CSP on ${path}: ${csp}`);
  }
  const inlineRan = await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inline = 1';
    document.body.append(s);
    return window.__inline === 1;
  });
  if (inlineRan) fail('an inline script ran despite the CSP');
  pass("CSP without 'unsafe-inline' on every page; an injected inline script is blocked");

  // --- a hostile assistant answers with HTML in every field
  const pem = readFileSync(`${work}/cert.pem`, 'utf8');
  const sha = new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();
  const evil = '<img src=x id=pwnimg onerror="window.__pwned=1">';
  const hostile = await hostileAssistant('poste-hostile <b id=pwnname>', (op) => {
    if (op === 'list_certificates') {
      return { ok: true, result: { certificates: [{ sha256: sha, subject: evil, subject_cn: evil, issuer: '<b id=pwnissuer>', issuer_cn: '<b id=pwnissuer>',
        serial: '01', not_after: '<b id=pwn>', source: 'store' }] } };
    }
    if (op === 'generate_bicle') return { ok: true, result: { sha256: sha, certificate: pem } };
    return { ok: false, error: { code: 'portal.declined', message: '<b id=pwnerror>refusé</b>' } };
  });
  await page.goto(`${url}/cles`);
  await page.waitForFunction(() => document.querySelectorAll('#table-assistants tbody tr').length === 2, null, { timeout: 15000 });
  const rows = await page.locator('#table-assistants tbody tr').allTextContents();
  if (!rows.some((r) => r.includes('poste-playwright')) || !rows.some((r) => r.includes('poste-hostile <b id=pwnname>'))) fail('both assistants listed: ' + rows);
  await page.waitForFunction(() => document.getElementById('etat-assistant').textContent === 'Connecté', null, { timeout: 15000 });
  pass('the page lists both assistants (name, address, last seen) and the hostile one, alone online, answers');
  await axe('/cles (two assistants)');
  // the agent makes its own (offline) assistant answer: the page no longer says Connecté for the other one
  await page.click('#table-assistants tr:has-text("poste-playwright") button');
  await page.waitForFunction(() => document.getElementById('etat-assistant').textContent === 'Déconnecté', null, { timeout: 5000 });
  pass('"Connecté" follows the answering assistant: Déconnecté when only another one is online');
  await page.click('#table-assistants tr:has-text("poste-hostile") button');
  await page.waitForFunction(() => document.getElementById('etat-assistant').textContent === 'Connecté', null, { timeout: 5000 });

  await page.goto(`${url}/cles/ajouter`);
  await page.fill('#designation', 'Jean Dupont 2027');
  await page.check('#secours');
  await page.click('#suivant1');
  await page.click('#suivant2');
  await page.waitForFunction(listed, null, { timeout: 15000 });
  const hostileList = await page.textContent('#liste');
  const injected = await page.evaluate(() => ['#pwn', '#pwnimg', '#pwnissuer', '#pwnname'].filter((s) => document.querySelector(s)).concat(window.__pwned ? ['onerror ran'] : []));
  if (injected.length) fail('assistant values became markup: ' + injected.join(', '));
  if (!hostileList.includes('<b id=pwn>') || !hostileList.includes('<b id=pwnissuer>') || !hostileList.includes(evil)) fail('values shown literally, got: ' + hostileList);
  pass('an assistant answering not_after "<b id=pwn>" leaves no #pwn in the page; the text shows literally');
  await axe('/cles/ajouter (hostile list)');

  // a key the hostile assistant generates waits for the agent's confirmation, in a dialog that names it
  await page.goto(`${url}/cles/ajouter`);
  await page.fill('#designation', 'Jean Dupont 2027');
  await page.check('#secours');
  await page.click('#suivant1');
  await page.check('#mode-generer');
  await page.click('#suivant2');
  await Promise.all([page.waitForURL(/\/cles$/, { timeout: 15000 }), page.click('#valider')]);
  const pendingRow = page.locator('tr:has(button[data-action="confirmer-ajout"])');
  const rowText = await pendingRow.textContent();
  if (!rowText.includes('À confirmer') || !rowText.includes('poste-hostile') || !rowText.includes(sha.slice(0, 4).toUpperCase())) fail('pending row shows issuer, SHA-256 prefix and device: ' + rowText);
  await pendingRow.locator('button[data-action="confirmer-ajout"]').click();
  const dialog = page.locator('#confirmation');
  await dialog.waitFor({ state: 'visible' });
  const dialogText = await dialog.textContent();
  if (!dialogText.includes('Trousseau') || !dialogText.includes('poste-hostile <b id=pwnname>') || !dialogText.includes(sha.slice(0, 4).toUpperCase())) fail('dialog names issuer, fingerprint and device: ' + dialogText);
  if (await page.locator('#pwnname').count()) fail('device name became markup in the dialog');
  await axe('/cles (confirmation dialog)');
  await Promise.all([page.waitForNavigation(), page.click('#confirmation-oui')]);
  await page.waitForFunction(() => !document.querySelector('button[data-action="confirmer-ajout"]'), null, { timeout: 10000 });
  pass('a generated key from the assistant is "À confirmer", and the confirmation dialog names issuer, SHA-256 prefix and device');
  await page.screenshot({ path: `${work}/shots/cles-confirmee.png`, fullPage: true });
  hostile.close();
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await browser.close();
  cleanup();
}
// inline script, four HTML-bearing fields, "Connecté" for a non-answering assistant, a supplied key activated alone
console.log('abuse cases tried and refused: 7 (page in Chromium)');
console.log('portal page check: all passed');
