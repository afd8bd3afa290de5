// The form renderer: builds accessible DOM for the fields of a compiled procedure and keeps it in step
// with the shared form logic (form.js) as the answers change.
//
// Contract (WCAG + tests): a field with one input is labelled by a visible <label> holding the field's
// label; a field made of several inputs (date parts, family/given name, address parts) is a <fieldset>
// whose <legend> is the field's label. Values are written to `answers` on input; nothing is validated
// or rewritten during IME composition (normalisation happens on blur).

import { t, tx } from './i18n.js';
import { normalizeKana, normalizeDigits, normalizePostalCode, parseWareki, parseWarekiPartial, toWareki } from './japan.js';
import { lookupPostalCode } from './postal.js';
import { fieldPath, getPath, setPath, isShown, valueAt } from './paths.js';
import { el } from './dom.js';

const ERA_OPTIONS = ['令和', '平成', '昭和', '大正', '明治'];

export function domId(scope, path) {
  return `${scope}-${path}`.replace(/[^A-Za-z0-9_-]/g, '-');
}

export function labelContent(field, ctx, path) {
  const bits = [tx(field.label)];
  const out = [document.createTextNode(bits[0])];
  // ※必須 / ※任意: applyResult sets it from the form result's `required`, validation's own decision.
  if (field.type !== 'notice' && !field.calculate && !field.read_only) out.push(marker(el('span', {}), field.required));
  const note = prefillNote(ctx, path, true, field);
  if (note) out.push(el('span', { class: 'prefilled', text: note }));
  return out;
}

/** Where a value came from (the registry, an imported 転出証明書情報: ctx.sources), or that it was changed. */
export function prefillNote(ctx, path, lock = true, field = null) {
  if (ctx.prefilled.has(path)) {
    if (field && field.prefill_part) return t('prefilledFamily'); // only the 氏, from the filer's own record
    const from = ctx.sources && ctx.sources.get(path);
    if (from === 'bundle') return t('prefilledBundle'); // typed in an earlier procedure of the life event
    if (from === 'derived') return t('prefilledDerived'); // a choice inferred from a registry fact (`prefill_values`)
    return t((from === 'transfer' ? 'prefilledTransfer' : 'prefilled') + (lock && ctx.locked.has(path) ? 'Locked' : ''));
  }
  return ctx.corrected && ctx.corrected.has(path) ? t('prefillCorrected') : null;
}

function marker(span, on) {
  const cls = on ? 'req' : 'opt';
  if (span.className !== cls) { span.className = cls; span.textContent = t(on ? 'required' : 'optional'); } // only on a change
  return span;
}

export function hintNodes(field, id) {
  const nodes = [];
  if (field.hint) nodes.push(el('p', { class: 'hint', id: id + '-hint', text: tx(field.hint) }));
  if (field.help) nodes.push(el('p', { class: 'hint', text: tx(field.help) }));
  return nodes;
}

export function describedBy(field, id, extra) {
  return [id + '-error', field.hint ? id + '-hint' : null, extra].filter(Boolean).join(' ');
}

/**
 * Render `fields` into `container`. ctx: {scope, answers, prefilled:Set, locked:Set, touched:Set,
 * hide:Set (top-level ids not to render), staff (staff filing: staff_only fields shown), onChange(path, {typed}), saveBlob(file),
 * loadShard(prefix), base (group item path prefix)}.
 */
export function renderFields(container, fields, ctx, base = '') {
  let box = null;
  const skip = (f) => (!base && ctx.hide && ctx.hide.has(f.id)) || (f.staff_only && !ctx.staff);
  const inside = new Set(); // fields a person field shows on its own line (picker.js personBox)
  fields.forEach((field, i) => {
    if (skip(field) || inside.has(field.id)) return;
    if (field.type === 'person') {
      // Nobody to pick (no profile list) or every field it fills answered elsewhere: no person field.
      const people = ctx.picker && ctx.people && ctx.people[field.prefill];
      const targets = fields.slice(i + 1).filter((f) => f.id in (field.fills || {}) && !skip(f));
      if (!people || !targets.length) return;
      for (const f of targets) inside.add(f.id);
      container.append(ctx.picker.personBox(field, ctx, fieldPath(base, field.id), people, targets, base));
      return;
    }
    const node = renderField(field, ctx, fieldPath(base, field.id));
    if (base || !ctx.fold || !ctx.fold.ids.has(field.id)) { container.append(node); return; }
    // A step's prefilled values (steps.js foldedFields): one line where the first of them is, each field
    // inside as usual; open when one was corrected, or after the resident opened it (kept across redraws).
    // The line says where they came from when that is one place (else a neutral 「入力済みの項目」: each field says).
    if (!box) {
      const from = new Set([...ctx.fold.ids].map((id) => prefillNote(ctx, id, false)));
      container.append(box = foldBox('prefill-values', `${from.size === 1 ? [...from][0] : t('prefilledMixed')}${t('memberOpen')}`, ctx.fold.open || ctx.foldOpen));
      box.addEventListener('toggle', () => { ctx.foldOpen = box.open; });
    }
    box.append(node);
  });
}

/** Values the city filled, folded under one line (a step's prefilled fields; a picked member: picker.js memberLine). */
export function foldBox(cls, summary, open) {
  return el('details', { class: cls, open }, el('summary', { text: summary }));
}

function renderField(field, ctx, path) {
  const id = domId(ctx.scope, path);
  const value = getPath(ctx.answers, path);
  const locked = Boolean(field.calculate) || field.read_only || ctx.locked.has(path);
  const set = (v, typed = true) => { setPath(ctx.answers, path, v); ctx.onChange(path, { typed }); };
  const blurTouch = () => { ctx.touched.add(path); ctx.onChange(path, { typed: false, blur: true }); };
  const errorP = el('p', { class: 'error-text', id: id + '-error', hidden: true });
  const common = { 'data-path': path, 'data-field': field.id, class: 'field' };

  const single = (input, extra = []) => el('div', common,
    el('label', { for: id }, labelContent(field, ctx, path)), hintNodes(field, id), errorP, input, extra);

  const textInput = (attrs, parse = (x) => x) => {
    const input = el('input', {
      id, name: path, type: 'text', value: value ?? '', 'aria-describedby': describedBy(field, id), readonly: locked,
      spellcheck: 'false', ...attrs,
    });
    input.addEventListener('input', (e) => { if (!e.isComposing) set(parse(input.value)); });
    input.addEventListener('compositionend', () => set(parse(input.value)));
    input.addEventListener('blur', blurTouch);
    return input;
  };

  switch (field.type) {
    case 'notice':
      return el('div', { ...common, class: 'notice' + (field.level === 'warning' ? ' warning' : '') },
        el('p', { class: 'label', text: tx(field.label) }), field.text ? el('p', { text: tx(field.text) }) : null);
    case 'text':
    case 'email':
    case 'phone':
    case 'my_number':
    case 'corporate_number': {
      const attrs = {
        text: {},
        email: { type: 'email', autocomplete: 'email' },
        phone: { type: 'tel', autocomplete: 'tel-national', class: 'w-short' },
        my_number: { inputmode: 'numeric', autocomplete: 'off', class: 'w-short' },
        corporate_number: { inputmode: 'numeric', autocomplete: 'off', class: 'w-short' },
      }[field.type];
      // Digits are normalised in the stored answer as they are typed (so an error clears while typing, not
      // on blur, which would move the page under the pointer), and in the box itself on blur.
      const digits = field.type !== 'text' && field.type !== 'email';
      const clean = (text) => cleanDigits(field.type, text);
      const input = textInput(attrs, digits ? clean : undefined);
      if (digits) {
        input.addEventListener('blur', () => {
          const v = clean(input.value);
          if (v !== input.value) { input.value = v; set(v, false); }
        });
      }
      return single(input);
    }
    case 'longtext': {
      const ta = el('textarea', { id, name: path, 'aria-describedby': describedBy(field, id), readonly: locked, rows: 5 });
      ta.value = value ?? '';
      ta.addEventListener('input', (e) => { if (!e.isComposing) set(ta.value); });
      ta.addEventListener('compositionend', () => set(ta.value));
      ta.addEventListener('blur', blurTouch);
      return single(ta);
    }
    case 'number': {
      // Full-width digits are accepted and stored as a number; anything else is kept for the validator.
      const parse = (text) => {
        const raw = normalizeDigits(text).trim();
        const n = Number(raw);
        return raw === '' ? null : Number.isFinite(n) ? n : raw;
      };
      const input = textInput({ inputmode: field.step && field.step % 1 ? 'decimal' : 'numeric', class: 'w-short' }, parse);
      if (field.calculate) input.setAttribute('data-calculated', '');
      const unit = field.unit ? el('span', { class: 'hint', id: id + '-unit', text: tx(field.unit) }) : null;
      if (unit) input.setAttribute('aria-describedby', describedBy(field, id, id + '-unit'));
      return single(input, [unit]);
    }
    case 'yesno':
    case 'choice': {
      const choices = field.type === 'yesno'
        ? [{ value: true, label: t('yes') }, { value: false, label: t('no') }]
        : ctx.choicesFor(field, path);
      if (field.type === 'choice' && field.appearance === 'select') {
        const sel = el('select', { id, name: path, 'aria-describedby': describedBy(field, id), disabled: locked, 'data-filtered': field.choice_filter ? '' : null });
        // A choice_filter's options follow the answers it reads: applyResult calls fill again after each change.
        sel.fillChoices = () => {
          const list = ctx.choicesFor(field, path);
          const key = list.map((c) => c.value).join('\n');
          if (sel.dataset.choices === key) return;
          sel.dataset.choices = key;
          const cur = getPath(ctx.answers, path);
          sel.replaceChildren(el('option', { value: '', text: t('selectPrompt') }),
            ...list.map((c) => el('option', { value: c.value, text: tx(c.label), selected: cur === c.value })));
        };
        sel.fillChoices();
        sel.addEventListener('change', () => set(sel.value || null));
        sel.addEventListener('blur', blurTouch);
        return single(sel);
      }
      const fs = el('fieldset', { ...common, 'aria-describedby': describedBy(field, id) },
        el('legend', {}, labelContent(field, ctx, path)), hintNodes(field, id), errorP);
      const box = el('div', { class: 'choices' });
      choices.forEach((c, i) => {
        const input = el('input', {
          type: 'radio', name: id, id: i === 0 ? id : `${id}-${i}`, value: String(c.value), checked: value === c.value, disabled: locked,
        });
        input.addEventListener('change', () => { if (input.checked) { ctx.touched.add(path); set(c.value); } });
        box.append(el('label', { class: 'choice', for: input.id }, input, el('span', { text: tx(c.label) })));
      });
      fs.append(box);
      return fs;
    }
    case 'multichoice': {
      const fs = el('fieldset', { ...common, 'aria-describedby': describedBy(field, id) },
        el('legend', {}, labelContent(field, ctx, path)), hintNodes(field, id), errorP);
      const box = el('div', { class: 'choices' });
      const current = () => (Array.isArray(getPath(ctx.answers, path)) ? getPath(ctx.answers, path) : []);
      ctx.choicesFor(field, path).forEach((c, i) => {
        const input = el('input', { type: 'checkbox', id: i === 0 ? id : `${id}-${i}`, name: id, value: c.value, checked: current().includes(c.value), disabled: locked });
        input.addEventListener('change', () => {
          const list = current().filter((v) => v !== c.value);
          if (input.checked) list.push(c.value);
          ctx.touched.add(path);
          set(list.length ? list : null);
        });
        box.append(el('label', { class: 'choice', for: input.id }, input, el('span', { text: tx(c.label) })));
      });
      fs.append(box);
      return fs;
    }
    case 'date':
    case 'wareki':
      return renderDate(field, ctx, path, id, common, errorP, locked, set, blurTouch);
    case 'name':
    case 'kana': {
      const kana = field.type === 'kana';
      if ((kana && !field.split) || (!kana && field.single_part)) {
        const input = textInput({ autocomplete: kana ? 'off' : 'name' }, kana ? normalizeKana : undefined);
        if (kana) input.addEventListener('blur', () => { const v = normalizeKana(input.value); if (v !== input.value) { input.value = v; set(v, false); } });
        const hint = !kana && field.hint ? null : el('p', { class: 'hint', id: id + '-h2', text: kana ? t('kanaHint') : t('nameHint') });
        if (hint) input.setAttribute('aria-describedby', describedBy(field, id, id + '-h2'));
        return el('div', common, el('label', { for: id }, labelContent(field, ctx, path)), hint, hintNodes(field, id), errorP, input);
      }
      const parts = [['family', kana ? t('familyKana') : t('family'), kana ? 'off' : 'family-name'],
        ['given', kana ? t('givenKana') : t('given'), kana ? 'off' : 'given-name']];
      // The generic name hint gives way to the procedure's own (usually the same advice in its words).
      const generic = kana ? t('kanaHint') : field.hint ? null : t('nameHint');
      // With the 氏 prefilled (`prefill_part`) the 名 box is the field's own (its id: label, error links land on it).
      const lead = field.prefill_part && !locked && ctx.prefilled.has(path) ? 1 : 0;
      return partsFieldset(field, ctx, path, id, common, errorP, locked, parts, (v) => v, kana ? normalizeKana : null, set, blurTouch, generic, lead);
    }
    case 'postal_code': {
      const input = textInput({ inputmode: 'numeric', autocomplete: 'postal-code', class: 'w-short' }, (x) => normalizePostalCode(x) || x);
      input.addEventListener('blur', () => { const v = normalizePostalCode(input.value); if (v && v !== input.value) { input.value = v; set(v, false); } });
      const extra = [];
      if (field.address_field) extra.push(postalLookup(ctx, id, () => input.value, field.address_field, base(path)));
      return single(input, extra);
    }
    case 'address': {
      const linked = ctx.linkedPostal && ctx.linkedPostal(field.id);
      const parts = [
        ...(linked ? [] : [['postal_code', t('postalCode'), 'postal-code', 'w-short', 'numeric']]),
        ['prefecture', t('pref'), 'address-level1', 'w-short'], ['city', t('city'), 'address-level2'],
        ['town', t('town'), 'address-line1'], ['block', t('block'), 'off'], ['building', t('building'), 'address-line2'],
      ];
      const fs = partsFieldset(field, ctx, path, id, common, errorP, locked, parts, (v) => v, null, set, blurTouch);
      if (!linked) {
        // The postal code is the first part, so it carries the field's own id (error links land on it).
        const code = () => (fs.querySelector(`[data-part-id="${id}-postal_code"], #${CSS.escape(id)}-postal_code`) || {}).value;
        fs.append(postalLookup(ctx, id, code, field.id, base(path), true));
      }
      return fs;
    }
    case 'attachment':
      return renderAttachment(field, ctx, path, id, common, errorP, locked, set);
    case 'group':
      return renderGroup(field, ctx, path, id, common, errorP, locked);
    default:
      return single(textInput({}));
  }
}

/** Phone, My Number and corporate numbers: ASCII digits; phone keeps its separators as '-'. */
export function cleanDigits(type, text) {
  const digits = normalizeDigits(text);
  // GOV.UK: ignore stray spaces and hyphens. A phone number keeps its separators, as hyphens.
  if (type === 'phone') return digits.replace(/\s+/g, '').replace(/[‐‑–—―−－ーｰ]/g, '-');
  return digits.replace(/[\s\-‐‑–—―−－ーｰ]/g, '');
}

function base(path) {
  const i = path.lastIndexOf('.');
  return i < 0 ? '' : path.slice(0, i);
}

function partsFieldset(field, ctx, path, id, common, errorP, locked, parts, _fmt, normalize, set, blurTouch, extraHint, lead = 0) {
  const fs = el('fieldset', { ...common, 'aria-describedby': describedBy(field, id, extraHint ? id + '-h2' : null) },
    el('legend', {}, labelContent(field, ctx, path)),
    extraHint ? el('p', { class: 'hint', id: id + '-h2', text: extraHint }) : null, hintNodes(field, id), errorP);
  const row = el('div', { class: 'parts' });
  const cur = () => { const v = getPath(ctx.answers, path); return v && typeof v === 'object' ? { ...v } : {}; };
  parts.forEach(([key, label, ac, cls, im], i) => {
    const pid = `${id}-${key}`;
    const input = el('input', {
      id: i === lead ? id : pid, type: 'text', name: `${path}.${key}`, autocomplete: ac, readonly: locked,
      class: cls || null, inputmode: im || null, spellcheck: 'false', value: cur()[key] ?? '',
    });
    if (i === lead) input.setAttribute('data-part', key);
    if (i === lead && pid !== id) input.dataset.partId = pid;
    const update = () => {
      const v = cur();
      // The stored part is normalised now (kana, postal code); the box shows it on blur (never mid-IME).
      let raw = input.value;
      if (raw !== '' && normalize) raw = normalize(raw);
      if (raw !== '' && key === 'postal_code') raw = normalizePostalCode(raw) || raw;
      if (raw === '') delete v[key]; else v[key] = raw;
      set(Object.keys(v).length ? v : null);
    };
    // Typing in a part makes it the user's own: a later postal lookup leaves it alone.
    const typed = () => { if (ctx.autofilled) ctx.autofilled.delete(`${path}.${key}`); update(); };
    input.addEventListener('input', (e) => { if (!e.isComposing) typed(); });
    input.addEventListener('compositionend', typed);
    input.addEventListener('blur', () => {
      let v = input.value;
      if (normalize) v = normalize(v);
      if (key === 'postal_code') v = normalizePostalCode(v) || v;
      if (v !== input.value) { input.value = v; update(); }
      blurTouch();
    });
    row.append(el('div', { class: 'part' + (key === 'town' || key === 'block' || key === 'building' || key === 'city' ? ' grow' : '') },
      el('label', { for: input.id, text: label }), input));
  });
  fs.append(row);
  return fs;
}

function postalLookup(ctx, id, getCode, addressField, basePath, inline = false) {
  const status = el('p', { role: 'status', class: 'hint', id: id + '-postal-status' });
  if (ctx.announce && ctx.announce.id === status.id) {
    // A live region announces text injected after it is in the page, not text it was created with.
    const { text } = ctx.announce;
    ctx.announce = null;
    setTimeout(() => { status.textContent = text; }, 100);
  }
  const choices = el('div', {});
  const button = el('button', { type: 'button', id: id + '-postal-lookup', class: 'btn btn-secondary btn-small', text: t('postalLookup') });
  const addrPath = fieldPath(basePath, addressField);
  const apply = (entry) => {
    // The lookup redraws the fields (and this status node): the new node announces the result.
    ctx.announce = { id: status.id, text: t('postalFound', { addr: `${entry.prefecture}${entry.city}${entry.town}` }) };
    const cur = getPath(ctx.answers, addrPath);
    const v = cur && typeof cur === 'object' ? { ...cur } : {};
    const code = normalizePostalCode(getCode() || '') || v.postal_code;
    // Fill only the parts the user has not typed themselves; everything stays editable.
    for (const k of ['prefecture', 'city', 'town']) if (!v[k] || ctx.autofilled.has(`${addrPath}.${k}`)) { v[k] = entry[k]; ctx.autofilled.add(`${addrPath}.${k}`); }
    if (code) v.postal_code = code;
    setPath(ctx.answers, addrPath, v);
    const hadFocus = button === document.activeElement || choices.contains(document.activeElement) || !document.activeElement || document.activeElement === document.body;
    ctx.onChange(addrPath, { typed: false, rerender: true });
    if (status.isConnected) { status.textContent = ctx.announce.text; ctx.announce = null; }
    // The redraw replaced the focused control (the button or a chosen candidate): focus the lookup
    // button again, next to the status that announces the result.
    const again = hadFocus && document.getElementById(button.id);
    if (again && again !== document.activeElement) again.focus();
  };
  button.addEventListener('click', async () => {
    choices.replaceChildren();
    const code = normalizePostalCode(getCode() || '');
    if (!code) { status.textContent = t('postalNone'); return; }
    let found = [];
    try { found = await lookupPostalCode(code, ctx.loadShard); } catch {
      // The shard is neither cached nor reachable (offline before the first download).
      status.textContent = t('postalUnavailable');
      return;
    }
    if (!found || !found.length) { status.textContent = t('postalNone'); return; }
    if (found.length === 1) { apply(found[0]); return; }
    status.textContent = t('postalMany', { n: found.length });
    const fs = el('fieldset', { class: 'field' }, el('legend', { text: t('postalChoice') }));
    found.forEach((entry, i) => {
      const b = el('button', { type: 'button', class: 'btn btn-secondary btn-small', id: `${id}-cand-${i}`, text: `${entry.prefecture}${entry.city}${entry.town}` });
      b.addEventListener('click', () => { choices.replaceChildren(); apply(entry); });
      fs.append(b, ' ');
    });
    choices.append(fs);
  });
  return el('div', { class: inline ? 'actions' : 'postal-tools' }, button, status, choices);
}

function renderDate(field, ctx, path, id, common, errorP, locked, set, blurTouch) {
  const value = getPath(ctx.answers, path);
  const wareki = field.type === 'wareki';
  const m = typeof value === 'string' ? /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(value) : null;
  const raw = ctx.raw[path] || (m ? { era: '', y: m[1], mo: m[2] ? String(+m[2]) : '', d: m[3] ? String(+m[3]) : '' } : { era: '', y: '', mo: '', d: '' });
  const echo = el('p', { class: 'hint', id: id + '-echo', 'aria-live': 'polite' });
  const fs = el('fieldset', { ...common, 'aria-describedby': describedBy(field, id, id + '-dhint') },
    el('legend', {}, labelContent(field, ctx, path)),
    el('p', { class: 'hint', id: id + '-dhint', text: t('dateHint') }), hintNodes(field, id), errorP);
  const row = el('div', { class: 'parts' });
  const inputs = {};
  const compute = () => {
    const r = ctx.raw[path] = { era: inputs.era ? inputs.era.value : '', y: inputs.y.value.trim(), mo: inputs.mo.value.trim(), d: inputs.d.value.trim() };
    const y = normalizeDigits(r.y), mo = normalizeDigits(r.mo), d = normalizeDigits(r.d);
    if (!y && !mo && !d) return null;
    try {
      if (r.era) {
        const text = `${r.era}${y}年${mo ? mo + '月' : ''}${d ? d + '日' : ''}`;
        return field.allow_partial ? parseWarekiPartial(text) : parseWareki(text);
      }
      if (!/^\d{4}$/.test(y)) return `${y}-${mo}-${d}`; // invalid: form.js reports it
      if (field.allow_partial && !d) return mo ? `${y}-${String(mo).padStart(2, '0')}` : y;
      return `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
    } catch {
      return `${r.era}${y}-${mo}-${d}`; // kept as typed so the validator flags it
    }
  };
  const update = () => {
    const v = compute();
    set(v);
    echo.textContent = dateEcho(v, field);
  };
  if (wareki) {
    const sel = el('select', { id: id + '-era', disabled: locked, class: 'w-era' });
    sel.append(el('option', { value: '', text: t('seireki') }));
    for (const e of ERA_OPTIONS) sel.append(el('option', { value: e, text: e, selected: raw.era === e }));
    sel.addEventListener('change', update);
    inputs.era = sel;
    row.append(el('div', { class: 'part date-part' }, el('label', { for: sel.id, text: t('calendar') }), sel));
  }
  const bday = /birth/.test(field.id);
  [['y', t('year'), 'w-year', bday ? 'bday-year' : 'off'], ['mo', t('month'), 'w-tiny', bday ? 'bday-month' : 'off'], ['d', t('day'), 'w-tiny', bday ? 'bday-day' : 'off']].forEach(([k, label, cls, ac], i) => {
    const input = el('input', {
      id: !wareki && i === 0 ? id : `${id}-${k}`, type: 'text', inputmode: 'numeric', class: cls, autocomplete: ac, readonly: locked, value: raw[k] || '',
    });
    input.addEventListener('input', update);
    input.addEventListener('blur', blurTouch);
    inputs[k] = input;
    row.append(el('div', { class: 'part date-part' }, el('label', { for: input.id, text: label }), input));
  });
  if (wareki) inputs.era.id = id; // the error summary links to the first control
  row.querySelector('label').setAttribute('for', row.querySelector('select, input').id);
  fs.append(row, echo);
  echo.textContent = dateEcho(value, field);
  return fs;
}

// The date in words under the inputs: its wareki, or for a partial date a field accepts (a registry birth
// date with 日不詳, left empty in the inputs) that the day (and month) is unknown.
function dateEcho(v, field) {
  if (typeof v !== 'string') return '';
  try { if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return t('wareki', { w: toWareki(v) }); } catch { return ''; }
  const m = field.allow_partial && /^(\d{4})(?:-(\d{2}))?$/.exec(v);
  return m ? t(m[2] ? 'dayUnknown' : 'monthDayUnknown', { y: m[1], m: +m[2] }) : '';
}

function renderAttachment(field, ctx, path, id, common, errorP, locked, set) {
  const accept = (field.accept || ['image/jpeg', 'image/png', 'application/pdf']);
  const maxFiles = field.max_files || 1;
  const maxMb = field.max_size_mb || 10;
  const types = accept.map((a) => a.split('/')[1].toUpperCase()).join('・');
  const list = el('ul', { class: 'file-list' });
  const msg = el('p', { class: 'error-text', role: 'status', id: id + '-filemsg' });
  const input = el('input', {
    id, type: 'file', accept: accept.join(','), capture: field.capture ? 'environment' : null, multiple: maxFiles > 1, disabled: locked,
    'aria-describedby': describedBy(field, id, id + '-types'),
  });
  const current = () => (Array.isArray(getPath(ctx.answers, path)) ? getPath(ctx.answers, path) : []);
  const draw = () => {
    list.replaceChildren();
    for (const f of current()) {
      const rm = el('button', { type: 'button', class: 'btn-link', text: `${t('remove')}` });
      rm.append(el('span', { class: 'visually-hidden', text: `：${f.name}` }));
      rm.addEventListener('click', () => { const rest = current().filter((x) => x.sha256 !== f.sha256); set(rest.length ? rest : null); draw(); });
      list.append(el('li', {}, el('span', { text: `${f.name}（${Math.ceil(f.size / 1024)} KB）` }), rm));
    }
  };
  input.addEventListener('change', async () => {
    msg.textContent = '';
    for (const file of input.files) {
      if (current().length >= maxFiles) break;
      if (file.size > maxMb * 1024 * 1024) { msg.textContent = t('tooBig', { mb: maxMb }); continue; }
      if (accept.length && !accept.includes(file.type)) { msg.textContent = t('badType', { types }); continue; }
      const ref = await ctx.saveBlob(file);
      set([...current(), ref]);
    }
    input.value = '';
    ctx.touched.add(path);
    draw();
  });
  draw();
  return el('div', common,
    el('label', { for: id }, labelContent(field, ctx, path)), hintNodes(field, id),
    el('p', { class: 'hint', id: id + '-types', text: t('attachHint', { types, mb: maxMb }) }),
    errorP, input, msg, list);
}

function renderGroup(field, ctx, path, id, common, errorP, locked) {
  const items = () => (Array.isArray(getPath(ctx.answers, path)) ? getPath(ctx.answers, path) : []);
  const itemLabel = tx(field.item_label) || tx(field.label);
  // A group prefilled from the household (or the movers of a transfer): picker.js, loaded with the form.
  const people = ctx.picker && field.prefill_map && ctx.people && ctx.people[field.prefill];
  // pick_self: false: the filer is not offered (people.js offeredTo).
  const offered = people && ctx.picker.offeredTo(field, people.list, people.self);
  const fs = el('fieldset', { ...common, 'aria-describedby': describedBy(field, id, people && field.pick ? `${id}-pick-hint` : null) },
    el('legend', {}, labelContent(field, ctx, path)), hintNodes(field, id), errorP);
  const body = el('div', {});
  const add = el('button', { type: 'button', id, class: 'btn btn-secondary btn-small', text: t(people && field.pick ? 'addOther' : 'addItem', { label: itemLabel }), disabled: locked });
  let picker = null;
  const draw = () => {
    if (people) ctx.picker.markItems(field, ctx, path, items(), people.list, people.source);
    if (picker) picker.refresh();
    body.replaceChildren();
    items().forEach((_, i) => {
      const n = i + 1;
      const itemFs = el('fieldset', { class: 'group-item' }, el('legend', { text: t('item', { label: itemLabel, n }) }));
      const line = people && ctx.picker.memberLine(field, items(), people.list, i, ctx, path);
      if (line) { // a picked member: one line, the registry's values folded (picker.js)
        const box = foldBox('member-values', line.summary, line.open);
        renderFields(box, (field.fields || []).filter((f) => line.ids.has(f.id)), ctx, `${path}[${i}]`);
        itemFs.append(box);
        renderFields(itemFs, (field.fields || []).filter((f) => !line.ids.has(f.id)), ctx, `${path}[${i}]`);
      } else renderFields(itemFs, field.fields || [], ctx, `${path}[${i}]`);
      if (!locked) {
        const rm = el('button', { type: 'button', class: 'btn-link', text: t('removeItem', { label: `${itemLabel} ${n}` }) });
        rm.addEventListener('click', () => {
          const list = items().slice();
          list.splice(i, 1);
          setPath(ctx.answers, path, list.length ? list : null);
          ctx.onChange(path, { typed: true });
          draw();
          add.focus();
        });
        itemFs.append(rm);
      }
      body.append(itemFs);
    });
    add.hidden = field.max != null && items().length >= field.max;
  };
  add.addEventListener('click', () => {
    setPath(ctx.answers, path, [...items(), {}]);
    ctx.onChange(path, { typed: true });
    draw();
    const last = body.lastElementChild && body.lastElementChild.querySelector('input, select, textarea');
    if (last) last.focus();
  });
  // A value changed in a person's item: its label says so at once (and staff will see it: prefill_check.py).
  if (people) body.addEventListener('change', () => ctx.picker.relabel(body, field, ctx, path, items(), people));
  if (people && field.pick && !locked) {
    picker = ctx.picker.pickerBox(field, ctx, id, offered, items, (list) => {
      setPath(ctx.answers, path, list.length ? list : null);
      ctx.onChange(path, { typed: false, picked: true });
      draw();
    }, people.source);
    fs.append(...picker.nodes);
  }
  draw();
  fs.append(body, add);
  return fs;
}

/**
 * After each change: show/hide fields, write calculated values, show errors of touched fields.
 * `result` is form.js's evaluateForm output.
 */
export function applyResult(root, result, ctx, { showAll = false } = {}) {
  for (const sel of root.querySelectorAll('select[data-filtered]')) if (sel.fillChoices) sel.fillChoices();
  const errors = new Map();
  const required = result.required ? new Set(result.required) : null;
  for (const e of result.errors || []) if (!errors.has(e.path)) errors.set(e.path, e);
  for (const node of root.querySelectorAll('[data-path]')) {
    const path = node.getAttribute('data-path');
    node.hidden = !isShown(result, path);
    const input = node.querySelector(`#${CSS.escape(domId(ctx.scope, path))}`);
    if (node.querySelector('[data-calculated]')) {
      const v = valueAt(result, path);
      const calc = node.querySelector('[data-calculated]');
      const text = v == null ? '' : String(v);
      if (calc.value !== text) calc.value = text;
    }
    const mark = required && node.querySelector(':scope > :is(label, legend) > :is(.req, .opt)');
    if (mark) marker(mark, required.has(path)); // switches live as answers change (required_if)
    const errP = node.querySelector(':scope > .error-text');
    const err = errors.get(path);
    // Errors appear when the user asks to continue (GOV.UK: validate on continue, not on blur; an error
    // popping up on blur also moves the button under a pointer that is about to click it), then follow
    // every change live.
    const visible = Boolean(err) && !node.hidden && showAll;
    if (errP) {
      errP.hidden = !visible;
      errP.textContent = visible ? '' : '';
      // The same words as in the error summary: the field's label, then how to fix it.
      const labelNode = node.querySelector(':scope > legend, :scope > label');
      const label = labelNode && labelNode.firstChild ? labelNode.firstChild.textContent : '';
      const text = label ? t('errorLine', { label, msg: errorText(err) }) : errorText(err);
      if (visible) errP.append(el('span', { class: 'visually-hidden', text: t('errorPrefix') }), `＊${text}`);
    }
    const controls = node.matches('fieldset') ? node.querySelectorAll(':scope > .choices input, :scope > .parts input, :scope > .parts select') : (input ? [input] : []);
    for (const c of controls) c.setAttribute('aria-invalid', visible ? 'true' : 'false');
    if (visible) { const box = node.closest('details'); if (box) box.open = true; } // a folded member's value
  }
  return errors;
}

export function errorText(err) {
  if (!err) return '';
  const m = err.message;
  return typeof m === 'string' ? m : tx(m) || err.code || '';
}
