// The sandbox portal's only script (served by the sandbox; the Content-Security-Policy forbids inline scripts).
// Reference for real portals: nothing an assistant or a user supplies is ever parsed as HTML — every value goes into
// the page through textContent / createElement, never innerHTML.
'use strict';

const CSRF = (document.querySelector('meta[name=csrf-token]') || {}).content || '';
const PAGE = document.body.dataset.page;

async function api(method, path, body) {
  const r = await fetch(path, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': CSRF },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.detail || ('Erreur ' + r.status));
  return j;
}

/** An element with text content (never HTML) and attributes. */
function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function msg(t) {
  const m = document.getElementById('message');
  if (m) m.textContent = t;
}

function dateFr(s) {
  return String(s || '').slice(0, 10).split('-').reverse().join('/');
}

function when(unix) {
  if (!unix) return 'jamais';
  return new Date(unix * 1000).toLocaleString('fr-FR');
}

// ---------------------------------------------------------------------------------------------------------------
// "Etat de Mon Assistant" and the agent's assistants (name, address, last seen, which one answers)

let answering = null;
let lastView = '';

function renderAssistants(e) {
  const box = document.getElementById('assistants');
  if (!box) return;
  const key = JSON.stringify(e.assistants.map((a) => [a.id, a.name, a.addr, a.connected, a.answering, a.connected ? 0 : a.last_seen]));
  const choix = document.getElementById('assistants-choix');
  if (choix) {
    choix.hidden = !e.choice_needed;
    choix.textContent = e.choice_needed
      ? 'Plusieurs assistants sont en ligne : choisissez celui qui répond à cette page.'
      : '';
  }
  if (key === lastView) return;
  lastView = key;
  box.replaceChildren();
  if (!e.assistants.length) {
    box.append(el('p', 'Aucun assistant associé : associez Trousseau depuis votre poste.'));
    return;
  }
  const table = el('table', null, { id: 'table-assistants' });
  table.append(el('caption', 'Assistants associés à votre compte'));
  const head = el('tr');
  for (const h of ['Nom', 'Système', 'Adresse', 'Vu pour la dernière fois', 'État', 'Répond à cette page']) {
    head.append(el('th', h, { scope: 'col' }));
  }
  const thead = el('thead');
  thead.append(head);
  table.append(thead);
  const body = el('tbody');
  for (const a of e.assistants) {
    const tr = el('tr', null, { 'data-assistant': String(a.id) });
    tr.append(el('td', a.name, { class: 'assistant-nom' }), el('td', a.os), el('td', a.addr, { class: 'assistant-adresse' }),
      el('td', a.connected ? 'maintenant' : when(a.last_seen)),
      el('td', a.connected ? 'En ligne' : 'Hors ligne', { class: a.connected ? 'ok' : 'ko' }));
    const cell = el('td');
    if (a.answering) {
      cell.append(el('strong', 'Oui', { class: 'assistant-repond' }));
    } else {
      const b = el('button', 'Faire répondre cet assistant', { type: 'button', 'aria-label': 'Faire répondre cet assistant : ' + a.name });
      b.addEventListener('click', async () => {
        try { render(await api('POST', '/agent/api/assistant', { id: a.id })); } catch (err) { msg(err.message); }
      });
      cell.append(b);
    }
    tr.append(cell);
    body.append(tr);
  }
  table.append(body);
  box.append(table);
}

function render(e) {
  answering = e.answering;
  const st = document.getElementById('etat-assistant');
  if (st) { st.textContent = e.label; st.className = e.connected ? 'ok' : 'ko'; }
  renderAssistants(e);
}

async function majEtat() {
  try { render(await api('GET', '/agent/api/etat')); } catch (_) {
    const st = document.getElementById('etat-assistant');
    if (st) { st.textContent = 'Déconnecté'; st.className = 'ko'; }
  }
}

if (CSRF && document.getElementById('etat-assistant')) { majEtat(); setInterval(majEtat, 1000); }

// ---------------------------------------------------------------------------------------------------------------
// "Clés de chiffrement": confirm add and confirm removal are distinct actions, each behind a dialog naming the
// bi-clé, its issuer, a SHA-256 prefix and the device that added it

function confirmDialog(row, kind) {
  return new Promise((resolve) => {
    const d = document.getElementById('confirmation');
    const add = kind === 'ajout';
    const text = (sel) => (row.querySelector(sel) || {}).textContent || '';
    document.getElementById('confirmation-titre').textContent = add ? 'Confirmer l\'ajout du bi-clé' : 'Confirmer la suppression du bi-clé';
    document.getElementById('confirmation-texte').textContent = add
      ? 'Ce bi-clé a été proposé par un assistant. Confirmez seulement si vous reconnaissez l\'émetteur, l\'empreinte et l\'assistant : un bi-clé de secours étranger lirait toutes vos offres.'
      : 'Un assistant demande la suppression de ce bi-clé. Confirmez seulement si vous l\'avez demandée.';
    document.getElementById('confirmation-nom').textContent = text('.designation');
    document.getElementById('confirmation-emetteur').textContent = text('.emetteur');
    document.getElementById('confirmation-empreinte').textContent = text('.empreinte');
    document.getElementById('confirmation-appareil').textContent = text('.appareil');
    const yes = document.getElementById('confirmation-oui');
    const no = document.getElementById('confirmation-non');
    yes.textContent = add ? 'Confirmer l\'ajout' : 'Confirmer la suppression';
    const done = (v) => { yes.onclick = null; no.onclick = null; d.close(); resolve(v); };
    yes.onclick = () => done(true);
    no.onclick = () => done(false);
    d.addEventListener('cancel', () => resolve(false), { once: true });
    d.showModal();
    no.focus();
  });
}

async function keysAction(ev) {
  const b = ev.target.closest('button[data-action]');
  if (!b) return;
  const id = b.dataset.id;
  const row = b.closest('tr');
  try {
    switch (b.dataset.action) {
      case 'confirmer-ajout':
        if (await confirmDialog(row, 'ajout')) { await api('POST', '/agent/api/bicles/' + id + '/confirmer-ajout'); location.reload(); }
        break;
      case 'confirmer-suppression':
        if (await confirmDialog(row, 'suppression')) { await api('POST', '/agent/api/bicles/' + id + '/confirmer-suppression'); location.reload(); }
        break;
      case 'supprimer':
        if (confirm('Supprimer ce bi-clé ?')) { await api('POST', '/agent/api/bicles/' + id + '/supprimer'); location.reload(); }
        break;
      case 'modifier': {
        const d = prompt('Nouvelle désignation (Prénom Nom AAAA)');
        if (d) { await api('POST', '/agent/api/bicles/' + id + '/modifier', { designation: d }); location.reload(); }
        break;
      }
      case 'revoquer':
        if (confirm('Révoquer tous vos assistants ?')) { await api('POST', '/agent/api/revoquer'); location.reload(); }
        break;
    }
  } catch (e) { msg(e.message); }
}

if (PAGE === 'cles') document.getElementById('contenu').addEventListener('click', keysAction);

// ---------------------------------------------------------------------------------------------------------------
// "Ajouter un bi-clé": the page never handles a certificate; it registers the id of the relayed request whose
// answer the portal kept (and checked against the fingerprint chosen here)

function wizard() {
  let certs = [];
  const $ = (id) => document.getElementById(id);
  const montrer = (n) => { for (const i of [1, 2, 3]) { $('etape' + i).hidden = i !== n; $('s' + i).className = i === n ? 'current' : ''; } };
  const kinds = () => [$('secours').checked ? 'backup' : 'personal'];
  const relay = (op, params) => api('POST', '/agent/api/relais', { op, params, assistant: answering === null ? undefined : answering });
  const repondant = (r) => { $('repondant').textContent = r.assistant ? 'Assistant qui répond : ' + r.assistant.name : ''; };
  const fail = (r, fallback) => new Error((r.error && r.error.message) || fallback);

  $('suivant1').addEventListener('click', () => {
    if (!$('designation').value.trim()) { msg('Indiquez une désignation, par exemple « Prénom Nom 2025 ».'); return; }
    msg(''); montrer(2);
  });
  $('suivant2').addEventListener('click', async () => {
    montrer(3);
    const liste = $('liste');
    liste.replaceChildren();
    if ($('mode-generer').checked) {
      liste.append(el('p', 'Un nouveau bi-clé RSA 2048 sera créé sur votre poste et importé dans son magasin de certificats. Confirmez dans la fenêtre de Trousseau.'));
      return;
    }
    liste.textContent = 'Recherche des bi-clés de votre poste…';
    try {
      const r = await relay('list_certificates', {});
      repondant(r);
      if (!r.ok) throw fail(r, 'Erreur de l\'assistant');
      certs = (r.result && Array.isArray(r.result.certificates)) ? r.result.certificates : [];
      liste.replaceChildren();
      if (!certs.length) { liste.append(el('p', 'Aucun certificat de chiffrement sur ce poste.')); return; }
      const table = el('table');
      table.append(el('caption', 'Bi-clés disponibles sur le poste'));
      const head = el('tr');
      for (const h of ['Choix', 'Nom', 'Émetteur', 'Date d\'expiration']) head.append(el('th', h, { scope: 'col' }));
      const thead = el('thead');
      thead.append(head);
      table.append(thead);
      const body = el('tbody');
      certs.forEach((c, i) => {
        const tr = el('tr');
        const radio = el('input', null, { type: 'radio', name: 'cert', id: 'cert' + i, value: String(i) });
        if (i === 0) radio.checked = true;
        const pick = el('td'); pick.append(radio);
        const name = el('td'); name.append(el('label', c.subject_cn || c.subject || '', { for: 'cert' + i }));
        tr.append(pick, name, el('td', c.issuer_cn || c.issuer || ''), el('td', dateFr(c.not_after)));
        body.append(tr);
      });
      table.append(body);
      liste.append(table);
    } catch (e) { liste.replaceChildren(); liste.textContent = e.message; }
  });
  $('valider').addEventListener('click', async () => {
    const designation = $('designation').value.trim();
    try {
      let r;
      if ($('mode-generer').checked) {
        msg('Confirmez la génération dans la fenêtre de Trousseau…');
        r = await relay('generate_bicle', { designation });
        repondant(r);
        if (!r.ok) throw fail(r, 'Génération refusée');
      } else {
        const sel = document.querySelector('input[name=cert]:checked');
        if (!sel || !certs[+sel.value]) { msg('Choisissez un bi-clé.'); return; }
        r = await relay('get_certificate', { sha256: String(certs[+sel.value].sha256 || '') });
        repondant(r);
        if (!r.ok) throw fail(r, 'Certificat introuvable');
      }
      const added = await api('POST', '/agent/api/bicles', { designation, relay: r.id, kinds: kinds() });
      const pending = (added.bicles || []).some((b) => b.status === 'a_confirmer');
      msg(pending ? 'Bi-clé enregistré : confirmez-le sur la page Clés de chiffrement.' : 'Bi-clé enregistré.');
      location.href = '/cles';
    } catch (e) { msg(e.message); }
  });
}

if (PAGE === 'ajouter') wizard();
