// A draft's preview (server/preview.py): the app's own renderer (render.js) and form engine (form.js), imported
// from the content-hashed bundle the server is serving (their URLs are on <html data-…>), so what a
// configurator sees on a phone is what residents will get. Nothing is stored: no IndexedDB, no service
// worker, no sync, no telemetry, no language saved (html[data-preview] tells any shared module so).
// It follows new pushes of the draft: GET /api/preview/{token} about every second with If-None-Match
// (slower while the page is hidden); a new revision redraws the form, keeping what was typed in fields
// that still exist.

const root = document.documentElement;
root.dataset.preview = 'true';
const cfg = root.dataset; // the bundle's module URLs and the token, set by the server on <html>

const [{ renderFields, applyResult, domId, errorText }, { evaluateForm }, i18n, { el }, paths, expr] = await Promise.all([
  import(cfg.render), import(cfg.form), import(cfg.i18n), import(cfg.dom), import(cfg.paths), import(cfg.expr),
]);
const { t, tx } = i18n;

const STRINGS = {
  ja: {
    pvTitle: 'プレビュー', pvVersion: '版 {version}・改訂 {revision}', pvSend: '送信する（プレビュー）', pvUpdated: '下書きが更新されました（改訂 {revision}）',
    pvNotSent: 'プレビューのため送信していません。入力内容に誤りはありません。送信される内容：', pvNothing: '（入力なし）',
    pvErrors: 'この下書きにはエラーがあります。直して、もう一度アップロードしてください。', pvEnded: 'このプレビューは終了しました。',
    pvEstimate: '入力の目安：約{s}秒',
    pvOffline: '接続できません。再接続を待っています…',
  },
  en: {
    pvTitle: 'Preview', pvVersion: 'Version {version}, revision {revision}', pvSend: 'Send (preview)', pvUpdated: 'The draft was updated (revision {revision})',
    pvNotSent: 'Nothing was sent: this is a preview. The answers are valid. What would be sent:', pvNothing: '(no answer)',
    pvErrors: 'This draft has errors. Fix them and upload it again.', pvEnded: 'This preview has ended.',
    pvEstimate: 'About {s} seconds to fill in',
    pvOffline: 'Cannot connect. Waiting to reconnect…',
  },
  'ja-easy': {
    pvTitle: 'ためし', pvVersion: 'ばん {version}・かいてい {revision}', pvSend: 'おくる（ためし）', pvUpdated: 'したがき が かわりました（かいてい {revision}）',
    pvNotSent: 'ためし なので おくって いません。まちがい は ありません。おくる ないよう：', pvNothing: '（なし）',
    pvErrors: 'この したがき には まちがい が あります。', pvEnded: 'この ためし は おわりました。',
    pvEstimate: 'だいたい {s}びょう で かけます',
    pvOffline: 'つながりません。まって います…',
  },
};
i18n.addStrings(STRINGS);

const main = document.getElementById('main');
const live = document.getElementById('preview-live');
const versionLine = document.getElementById('preview-version');
const langSelect = document.getElementById('lang');
const api = `/api/preview/${encodeURIComponent(cfg.token)}`;

let data = null; // the last answer of the API
let etag = null;
let answers = {}; // what was typed: kept across redraws, never stored
let showAll = false;
let result = null;
let shownKey = '';
let outcome = null; // the last send's outcome node (errors or what would be sent)

// Postal lookups read the bundle's shards (same as the app); nothing is cached here.
const shards = new Map();
const loadShard = async (prefix) => {
  if (!cfg.postal) return null;
  if (!shards.has(prefix)) {
    shards.set(prefix, fetch(`${cfg.postal}${prefix}.json`).then((r) => (r.ok ? r.json() : null)).catch(() => null));
  }
  return shards.get(prefix);
};

const allFields = (compiled) => (compiled.sections || []).flatMap((s) => s.fields || []);
const today = () => expr.japanToday();
const evalForm = (compiled) => evaluateForm(compiled, answers, { today: today(), filer: 'resident' });

function sectionShown(section) {
  if (section.staff_only) return false; // a resident's form: the counter's sections are not shown
  if (!section.show_if) return true;
  try { return expr.truthy(expr.evaluate(section.show_if, answers, { today: today() })); } catch { return false; }
}

function makeCtx(compiled) {
  return {
    scope: 'pv', answers, raw: {}, prefilled: new Set(), locked: new Set(), sources: new Map(), corrected: new Set(),
    people: null, picker: null, touched: new Set(), autofilled: new Set(), loadShard, staff: false,
    choicesFor: (field, path) => {
      const choices = field.choices || [];
      if (!field.choice_filter) return choices;
      let v;
      try {
        const parts = paths.parsePath(path);
        const item = parts.length > 1 ? paths.getPath(answers, parts.slice(0, -1).map((k) => (typeof k === 'number' ? `[${k}]` : k)).join('.').replace(/\.\[/g, '[')) : null;
        v = expr.evaluate(field.choice_filter, answers, { item, today: today() });
      } catch { v = null; }
      return choices.filter((c) => c.filter == null || c.filter === v || (Array.isArray(v) && v.includes(c.filter)));
    },
    linkedPostal: (addressId) => allFields(compiled).some((f) => f.type === 'postal_code' && f.address_field === addressId),
    // A chosen file stays in the page's memory only (its name and size are shown; nothing is uploaded).
    saveBlob: async (file) => ({ sha256: '0'.repeat(64), name: file.name, size: file.size, type: file.type }),
    onChange: () => onChange(compiled),
  };
}

let ctx = null;
let formBox = null;

function onChange(compiled) {
  result = evalForm(compiled);
  const key = visibleSections(compiled).map(({ i }) => i).join(',');
  if (key !== shownKey) { drawForm(compiled); return; }
  applyResult(formBox, result, ctx, { showAll });
}

function visibleSections(compiled) {
  return (compiled.sections || []).map((s, i) => ({ s, i })).filter(({ s }) => sectionShown(s));
}

function drawForm(compiled) {
  const active = document.activeElement && document.activeElement.id;
  result = evalForm(compiled);
  ctx = makeCtx(compiled);
  const secs = visibleSections(compiled);
  shownKey = secs.map(({ i }) => i).join(',');
  formBox.replaceChildren();
  for (const { s } of secs) {
    const box = el('section', { class: 'preview-section' }, el('h2', { text: tx(s.title) }));
    if (s.help) box.append(el('p', { class: 'hint', text: tx(s.help) }));
    renderFields(box, s.fields || [], ctx);
    formBox.append(box);
  }
  applyResult(formBox, result, ctx, { showAll });
  if (active) { const again = document.getElementById(active); if (again) again.focus(); }
}

function labelAt(compiled, path) {
  let fields = allFields(compiled);
  const out = [];
  for (const k of paths.parsePath(path)) {
    if (typeof k === 'number') { out.push(String(k + 1)); continue; }
    const f = (fields || []).find((x) => x.id === k);
    if (!f) break;
    out.push(tx(f.label));
    fields = f.fields;
  }
  return out.join(' ') || path;
}

function shownValue(field, v) {
  if (v == null || v === '') return t('pvNothing');
  const choice = (c) => { const hit = (field.choices || []).find((x) => x.value === c); return hit ? tx(hit.label) : String(c); };
  if (field.type === 'yesno') return v ? t('yes') : t('no');
  if (field.type === 'choice') return choice(v);
  if (Array.isArray(v) && field.type === 'multichoice') return v.map(choice).join('、');
  if (Array.isArray(v)) return `${v.length}`;
  if (typeof v === 'object') return Object.values(v).filter((x) => x != null && x !== '').join(' ');
  return String(v);
}

function send(compiled) {
  result = evalForm(compiled);
  showAll = true;
  applyResult(formBox, result, ctx, { showAll });
  const errs = (result.errors || []).filter((e) => paths.isShown(result, e.path));
  if (outcome) outcome.remove();
  if (errs.length) {
    outcome = el('div', { class: 'error-summary', tabindex: '-1', id: 'error-summary' });
    const ul = el('ul', {});
    for (const e of errs) {
      const target = domId('pv', e.path);
      const a = el('a', { href: `#${target}`, text: t('errorLine', { label: labelAt(compiled, e.path), msg: errorText(e) }) });
      a.addEventListener('click', (ev) => { ev.preventDefault(); const n = document.getElementById(target); if (n) n.focus(); });
      ul.append(el('li', {}, a));
    }
    outcome.append(el('div', { role: 'alert' }, el('h2', { text: t('errorsTitle', { n: errs.length }) }), ul));
  } else {
    outcome = el('div', { class: 'notice preview-outcome', tabindex: '-1', id: 'preview-outcome' });
    const dl = el('dl', { class: 'preview-values' });
    for (const f of allFields(compiled)) {
      if (f.type === 'notice' || !paths.isShown(result, f.id)) continue;
      dl.append(el('dt', { text: tx(f.label) }), el('dd', { text: shownValue(f, result.values ? result.values[f.id] : answers[f.id]) }));
    }
    outcome.append(el('p', { role: 'status', text: t('pvNotSent') }), dl);
  }
  formBox.before(outcome);
  outcome.focus();
}

// A life event: its yes/no questions (those shown by the answers) and the procedures they include, with the
// build's estimate for that set, as the app's navigator (page-event.js) shows them; no combined form starts.
let catalog = null;
async function procedureTitles() {
  if (!catalog && cfg.catalog) catalog = fetch(cfg.catalog).then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  return ((await catalog) || {}).procedures || {};
}

async function drawLifeEvent(c) {
  const nav = cfg.lifeevent ? await import(cfg.lifeevent) : null;
  const qBox = el('div', { id: 'preview-fields' });
  const outBox = el('div', { id: 'preview-event-result' });
  main.append(el('h2', { text: t('questions') }), qBox, outBox);
  const titles = await procedureTitles();
  const drawResult = () => {
    const procs = nav ? nav.applicableProcedures(c, answers, expr.evaluate, today()) : c.procedures || [];
    const est = (c.estimate_seconds || {})[procs.map((p) => p.procedure).join(',')];
    outBox.replaceChildren(...[el('h2', { text: t('applies') }),
      typeof est === 'number' ? el('p', { class: 'hint', text: t('pvEstimate', { s: est }) }) : null,
      el('ul', {}, ...procs.map((p) => el('li', {}, el('strong', { text: tx((titles[p.procedure] || {}).title) || p.procedure }),
        p.reason ? el('p', { class: 'hint', text: tx(p.reason) }) : null)))].filter(Boolean));
  };
  const drawQuestions = () => {
    qBox.replaceChildren();
    const shown = nav ? nav.visibleQuestions(c, answers, expr.evaluate, today()) : c.questions || [];
    for (const q of shown) {
      const qid = `pv-q-${q.id}`;
      const fs = el('fieldset', { class: 'field' }, el('legend', { text: tx(q.label) }));
      if (q.help) fs.append(el('p', { class: 'hint', text: tx(q.help) }));
      const box = el('div', { class: 'choices' });
      [[true, t('yes')], [false, t('no')]].forEach(([v, label], i) => {
        const input = el('input', { type: 'radio', name: qid, id: `${qid}-${i}`, checked: answers[q.id] === v });
        input.addEventListener('change', () => { answers[q.id] = v; drawQuestions(); drawResult(); document.getElementById(input.id).focus(); });
        box.append(el('label', { class: 'choice', for: input.id }, input, el('span', { text: label })));
      });
      fs.append(box);
      qBox.append(fs);
    }
  };
  drawQuestions();
  drawResult();
}

function draw() {
  const c = data.compiled;
  versionLine.textContent = t('pvVersion', { version: data.version || '—', revision: data.revision });
  main.replaceChildren();
  outcome = null;
  const h1 = el('h1', { id: 'page-title', text: c ? tx(c.title) : (data.procedure_id || t('app')) });
  main.append(h1);
  document.title = `${t('pvTitle')} — ${h1.textContent}`;
  if (!c) {
    main.append(el('p', { class: 'notice warning', id: 'preview-errors', text: t('pvErrors') }),
      el('ul', { class: 'preview-lines' }, ...(data.lines || []).map((line) => el('li', {}, el('code', { text: line })))));
    return;
  }
  if (c.description) main.append(el('p', { text: tx(c.description) }));
  // Keep what was typed where the field (or the life event's question) still exists.
  const ids = new Set(data.kind === 'life_event' ? (c.questions || []).map((q) => q.id) : allFields(c).map((f) => f.id));
  answers = Object.fromEntries(Object.entries(answers).filter(([k]) => ids.has(k)));
  if (data.kind === 'life_event') { drawLifeEvent(c); return; }
  if (typeof c.estimate_seconds === 'number') main.append(el('p', { class: 'hint', text: t('pvEstimate', { s: c.estimate_seconds }) }));
  const form = el('form', { novalidate: true, id: 'form' });
  formBox = el('div', { id: 'preview-fields' });
  const button = el('button', { type: 'submit', class: 'btn', id: 'preview-send', text: t('pvSend') });
  form.append(formBox, el('div', { class: 'actions' }, button));
  form.addEventListener('submit', (e) => { e.preventDefault(); send(c); });
  main.append(form);
  drawForm(c);
}

function ended(message) {
  main.replaceChildren(el('h1', { id: 'page-title', text: t('pvEnded') }), el('p', { class: 'notice warning', text: message }));
  live.textContent = t('pvEnded');
}

let timer = null;
let failures = 0;
async function poll() {
  timer = null;
  let next = document.hidden ? 10000 : 1000;
  try {
    const headers = etag ? { 'If-None-Match': etag } : {};
    const r = await fetch(api, { headers, cache: 'no-store', credentials: 'omit' });
    failures = 0;
    if (r.status === 404 || r.status === 410) {
      let detail = '';
      try { detail = (await r.json()).detail || ''; } catch { /* not JSON */ }
      ended(detail);
      return; // the link is over: stop asking
    }
    if (r.ok && r.status !== 304) {
      const body = await r.json();
      const changed = data && body.revision !== data.revision;
      etag = r.headers.get('ETag');
      data = body;
      draw();
      if (changed) live.textContent = t('pvUpdated', { revision: data.revision });
    }
  } catch {
    failures += 1;
    next = Math.min(30000, 1000 * 2 ** failures);
    if (!data) main.replaceChildren(el('h1', { id: 'page-title', text: t('app') }), el('p', { text: t('pvOffline') }));
  }
  timer = setTimeout(poll, next);
}

document.addEventListener('visibilitychange', () => {
  // Back on screen: ask at once rather than after the hidden page's long wait.
  if (!document.hidden && timer) { clearTimeout(timer); poll(); }
});

// The app's saved language when the browser lets this page read it (a framed page may not: storage blocked).
let saved = null;
try { saved = globalThis.localStorage; } catch { /* third-party storage blocked */ }
langSelect.value = i18n.initialLang(saved);
async function useLang(lang) {
  await i18n.loadLang(lang);
  i18n.setLang(lang, null); // null storage: the preview saves nothing, not even the language
  root.lang = i18n.htmlLang(lang);
  langSelect.value = lang;
  document.getElementById('lang-label').textContent = t('language');
  if (data) draw();
}
langSelect.addEventListener('change', () => useLang(langSelect.value));
await useLang(langSelect.value);
poll();
