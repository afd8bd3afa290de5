// Form logic on the phone: the twin of procedure_definitions/forms.py (same steps, codes and messages;
// tests/conformance/forms.json runs both). Input is the compiled procedure (expressions as ASTs).
// Order: clean answers, calculations to a bounded fixed point, visibility (hidden values removed in
// document order), when a value was removed: again without every hidden value until the hidden set is
// stable (settle), validation of shown fields (at most one error per field).
// Evaluation errors never escape: show_if counts as shown, required_if as not required, a constraint
// as violated, a calculation or choice_filter as null.

import { evaluate, EvalError, truthy, deepEqual, codePointLength } from './expr.js';
import { isValidMyNumber, isValidCorporateNumber, isKatakana, isValidPhone, phoneDigits } from './japan.js';

export const MESSAGES = {
  required: { ja: '入力してください。', en: 'This field is required.', 'ja-easy': 'かいてください。' },
  type: { ja: '入力の形式が正しくありません。入力し直してください。', en: 'The value has the wrong form: enter it again.', 'ja-easy': 'かきかたが ちがいます。もういちど かいてください。' },
  constraint: { ja: '入力内容を見直して、正しく入力し直してください。', en: 'Check this value and correct it.', 'ja-easy': 'かいた ことを もういちど みて、なおしてください。' },
  min: { ja: '{min}以上にしてください。', en: 'Must be {min} or more.', 'ja-easy': '{min} いじょう に してください。' },
  max: { ja: '{max}以下にしてください。', en: 'Must be {max} or less.', 'ja-easy': '{max} いか に してください。' },
  step: { ja: '{step}刻みで入力してください。', en: 'Must be a multiple of {step}.', 'ja-easy': '{step} ずつ の かずに してください。' },
  min_length: { ja: '{min_length}文字以上で入力してください。', en: 'Enter at least {min_length} characters.', 'ja-easy': '{min_length}もじ いじょう かいてください。' },
  max_length: { ja: '{max_length}文字以内で入力してください。', en: 'Enter at most {max_length} characters.', 'ja-easy': '{max_length}もじ いない で かいてください。' },
  choice: { ja: '選択肢から選んでください。', en: 'Choose one of the options.', 'ja-easy': 'えらんでください。' },
  min_selected: { ja: '{min_selected}個以上選んでください。', en: 'Choose at least {min_selected}.', 'ja-easy': '{min_selected}こ いじょう えらんでください。' },
  max_selected: { ja: '{max_selected}個以内で選んでください。', en: 'Choose at most {max_selected}.', 'ja-easy': '{max_selected}こ まで えらんでください。' },
  date: { ja: '正しい日付を入力してください。', en: 'Enter a valid date.', 'ja-easy': 'ただしい ひづけを かいてください。' },
  wareki: { ja: '正しい年月日を入力してください。', en: 'Enter a valid date (Japanese era or Western year).', 'ja-easy': 'ただしい ねん・つき・ひ を かいてください。' },
  email: { ja: 'メールアドレスを name@example.jp の形で入力してください。', en: 'Enter an email address like name@example.jp.', 'ja-easy': 'メールアドレスを name@example.jp の かたちで かいてください。' },
  phone: { ja: '電話番号を市外局番から入力してください(例：03-1234-5678)。', en: 'Enter a Japanese phone number with its area code, like 03-1234-5678.', 'ja-easy': 'でんわばんごうを 03-1234-5678 の ように かいてください。' },
  kana: { ja: '全角カタカナで入力してください。', en: 'Enter in full-width katakana.', 'ja-easy': 'カタカナで かいてください。' },
  postal_code: { ja: '郵便番号を7桁の数字で入力してください。', en: 'Enter a 7-digit postal code.', 'ja-easy': 'ゆうびんばんごう(7けた)を かいてください。' },
  address: { ja: '住所を都道府県から番地まですべて入力してください(郵便番号は7桁の数字)。', en: 'Enter the whole address, from the prefecture to the block number (postal code: 7 digits).', 'ja-easy': 'じゅうしょを ぜんぶ かいてください。' },
  name_parts: { ja: '姓と名の両方を入力してください。', en: 'Enter both the family name and the given name.', 'ja-easy': 'みょうじと なまえを りょうほう かいてください。' },
  my_number: { ja: 'マイナンバー(個人番号)12桁をカードのとおりに入力してください。', en: 'Enter the 12-digit My Number (individual number) exactly as on the card.', 'ja-easy': 'マイナンバー(12けた)を カードの とおりに かいてください。' },
  corporate_number: { ja: '法人番号13桁を正しく入力してください。', en: 'Enter the 13-digit corporate number correctly.', 'ja-easy': 'ほうじんばんごう(13けた)を ただしく かいてください。' },
  attachment_type: { ja: 'この項目で受け付ける種類のファイル(項目の説明を参照)を選んでください。', en: 'Choose a file of a type this item accepts (see its description).', 'ja-easy': 'つけられる しゅるいの ファイルを えらんでください。' },
  attachment_size: { ja: '{max_size_mb}MB以下のファイルを選んでください。', en: 'Choose a file of {max_size_mb} MB or less.', 'ja-easy': '{max_size_mb}MB より ちいさい ファイルを えらんでください。' },
  min_items: { ja: '{min}件以上入力してください。', en: 'Add at least {min}.', 'ja-easy': '{min}つ いじょう いれてください。' },
  max_items: { ja: '{max}件以内にしてください。', en: 'Add at most {max}.', 'ja-easy': '{max}つ までに してください。' },
  number_range: { ja: 'この数値は扱えません(-9007199254740991から9007199254740991までの数値にしてください)。', en: 'This number cannot be used (use a number from -9007199254740991 to 9007199254740991).', 'ja-easy': 'この かずは つかえません。ちいさい かずに してください。' },
  bad_text: { ja: '使用できない文字を削除してください。', en: 'Remove the character that cannot be used.', 'ja-easy': 'つかえない もじを けしてください。' },
  unknown_field: { ja: 'この項目は様式にありません。アプリを最新にしてから入力し直してください。', en: 'This item is not on the form: update the app and enter it again.', 'ja-easy': 'この こうもくは ありません。アプリを あたらしく してください。' },
  staff_only: { ja: 'この項目は窓口の職員が記入します。入力を消してください。', en: 'This item is filled in by staff at the counter: leave it empty.', 'ja-easy': 'ここは まどぐちの 人が かきます。けしてください。' },
};
const LANGS = ['ja', 'en', 'ja-easy'];

const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
const POSTAL = /^[0-9]{7}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const ISO = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;
const ADDRESS_PARTS = ['prefecture', 'city', 'town', 'block'];

const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isNumber = (v) => typeof v === 'number';
const isBlank = (v) => v === null || v === undefined || v === '';
const isEmpty = (v) => isBlank(v) || (Array.isArray(v) && v.length === 0) ||
  (isObject(v) && Object.values(v).every(isBlank));
const clone = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));
const LONE_SURROGATE = /\p{Surrogate}/u; // with the u flag a well-formed pair is one code point, never matched

// The code an answer is refused with at the edge (as forms.py): a number that is not finite or beyond
// Number.MAX_SAFE_INTEGER, a string with a lone surrogate; null when it is fine.
function refusal(v) {
  if (typeof v === 'number') return Number.isFinite(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER ? null : 'number_range';
  if (typeof v === 'string') return LONE_SURROGATE.test(v) ? 'bad_text' : null;
  if (Array.isArray(v)) {
    for (const x of v) { const r = refusal(x); if (r !== null) return r; }
    return null;
  }
  if (isObject(v)) {
    for (const x of Object.values(v)) { const r = refusal(x); if (r !== null) return r; }
  }
  return null;
}

function message(code, params, custom) {
  const out = {};
  for (const lang of LANGS) {
    let text = MESSAGES[code][lang];
    if (custom) text = custom[lang] || custom.ja || text;
    for (const [key, value] of Object.entries(params)) text = text.split(`{${key}}`).join(String(value));
    out[lang] = text;
  }
  return out;
}

function leap(y) { return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0); }

// (year, month|null, day|null) of an ISO date or partial date, null when invalid (as dates.parse_date).
function dateParts(v) {
  if (typeof v !== 'string') return null;
  const m = ISO.exec(v);
  if (!m) return null;
  const y = Number(m[1]);
  const mo = m[2] ? Number(m[2]) : null;
  const d = m[3] ? Number(m[3]) : null;
  if (y < 1 || (mo !== null && (mo < 1 || mo > 12))) return null;
  if (d !== null) {
    const days = mo === 2 ? (leap(y) ? 29 : 28) : ([4, 6, 9, 11].includes(mo) ? 30 : 31);
    if (d < 1 || d > days) return null;
  }
  return [y, mo, d];
}

class Form {
  constructor(compiled, answers, today, filer) {
    this.compiled = compiled;
    this.today = today;
    this.resident = filer !== 'staff'; // a resident never sees, owes or gives a staff_only field
    this.required = [];
    this.errors = [];
    this.hidden = new Set();
    this.currentScope = null;
    this.refused = new Set(); // paths whose answer was refused at the edge (one error each)
    this.dropped = false; // visibility removed an answer (of a field that turned out hidden)
    this.answers = isObject(answers) ? answers : {};
    this.top = [];
    for (const s of compiled.sections || []) this.top.push(...(s.fields || []));
    this.start();
  }

  // The cleaned answers, before any calculation or visibility (settle() starts again from here).
  start() {
    this.errors = [];
    this.refused = new Set();
    this.values = this.clean(this.top, this.answers, '');
  }

  eval(ast, scope) { return evaluate(ast, this.values, { item: scope, today: this.today }); }

  cond(ast, scope, onError) {
    try {
      return truthy(this.eval(ast, scope));
    } catch (e) {
      if (e instanceof EvalError) return onError;
      throw e;
    }
  }

  error(inst, code, params = {}) {
    const custom = code === 'constraint' ? inst.field.constraint_message : null;
    this.errors.push({ path: inst.path, field_id: inst.field.id, code, message: message(code, params, custom) });
  }

  clean(fields, answers, prefix) {
    const byId = new Map(fields.map((f) => [f.id, f]));
    const out = {};
    for (const key of Object.keys(answers).sort()) {
      if (!byId.has(key)) {
        this.errors.push({ path: prefix + key, field_id: key, code: 'unknown_field', message: message('unknown_field', {}) });
      }
    }
    for (const f of fields) {
      if (!hasOwn(answers, f.id) || isBlank(answers[f.id]) || f.type === 'notice' || hasOwn(f, 'calculate')) continue; // calculated: never an answer
      if (this.resident && f.staff_only) {
        this.refused.add(prefix + f.id);
        this.errors.push({ path: prefix + f.id, field_id: f.id, code: 'staff_only', message: message('staff_only', {}) });
        continue;
      }
      let value = answers[f.id];
      const group = f.type === 'group' && Array.isArray(value);
      const refused = group ? refusal(value.filter((item) => !isObject(item))) : refusal(value);
      if (refused !== null) {
        // Not kept: conditions and calculations see no answer, and validation skips the path.
        this.refused.add(prefix + f.id);
        this.errors.push({ path: prefix + f.id, field_id: f.id, code: refused, message: message(refused, {}) });
        continue;
      }
      if (group) {
        value = value.map((item, i) => (isObject(item) ? this.clean(f.fields || [], item, `${prefix}${f.id}[${i}].`) : clone(item)));
      } else {
        value = clone(value);
      }
      out[f.id] = value;
    }
    return out;
  }

  *instances() {
    for (const section of this.compiled.sections || []) yield* this.walk(section.fields || [], this.values, '', null);
  }

  *walk(fields, container, prefix, scope) {
    for (const f of fields) {
      const inst = { field: f, path: prefix + f.id, container, scope, siblings: fields };
      yield inst;
      if (f.type === 'group' && Array.isArray(container[f.id])) {
        const items = container[f.id];
        for (let i = 0; i < items.length; i++) {
          if (isObject(items[i])) yield* this.walk(f.fields || [], items[i], `${inst.path}[${i}].`, { ...(scope || {}), ...items[i] });
        }
      }
    }
  }

  scopeOf(inst) { return inst.scope === null ? null : { ...inst.scope, ...inst.container }; }

  calculate() {
    let count = 0;
    for (const inst of this.instances()) if (hasOwn(inst.field, 'calculate')) count++;
    for (let round = 0; round < count + 1; round++) {
      let changed = false;
      for (const inst of this.instances()) {
        if (!hasOwn(inst.field, 'calculate') || this.hidden.has(inst.path)) continue;
        let value;
        try {
          value = this.eval(inst.field.calculate, this.scopeOf(inst));
        } catch (e) {
          if (!(e instanceof EvalError)) throw e;
          value = null;
        }
        const id = inst.field.id;
        const old = hasOwn(inst.container, id) ? inst.container[id] : null;
        if (isBlank(value)) {
          if (hasOwn(inst.container, id)) { delete inst.container[id]; changed = true; }
        } else if (old === null || !deepEqual(old, value)) {
          inst.container[id] = value;
          changed = true;
        }
      }
      if (!changed) return true;
    }
    return false;
  }

  visibility() {
    const shown = [];
    for (const section of this.compiled.sections || []) {
      const visible = !hasOwn(section, 'show_if') || this.cond(section.show_if, null, true);
      this.visit(section.fields || [], this.values, '', null, visible, shown);
    }
    return shown;
  }

  visit(fields, container, prefix, scope, visible, shown) {
    for (const f of fields) {
      const path = prefix + f.id;
      const itemScope = scope === null ? null : { ...scope, ...container };
      const here = visible && !(this.resident && f.staff_only) && (!hasOwn(f, 'show_if') || this.cond(f.show_if, itemScope, true));
      if (here) {
        shown.push(path);
      } else {
        this.hidden.add(path);
        if (hasOwn(container, f.id)) {
          delete container[f.id];
          this.dropped = true;
        }
      }
      if (f.type === 'group' && here && Array.isArray(container[f.id])) {
        const items = container[f.id];
        for (let i = 0; i < items.length; i++) {
          if (isObject(items[i])) this.visit(f.fields || [], items[i], `${path}[${i}].`, { ...(scope || {}), ...items[i] }, true, shown);
        }
      }
    }
  }

  // Visibility and calculations at their fixed point (as forms.py settle()): start again from the answers
  // without every value hidden in the last pass, recalculate, see again, until the hidden set is stable.
  settle() {
    const sections = this.compiled.sections || [];
    let conditions = 0;
    const count = (fields) => {
      for (const f of fields) {
        if (hasOwn(f, 'show_if')) conditions++;
        if (f.type === 'group') count(f.fields || []);
      }
    };
    for (const section of sections) {
      if (hasOwn(section, 'show_if')) conditions++;
      count(section.fields || []);
    }
    let shown = [];
    for (let round = 0; round < conditions + 1; round++) {
      const hidden = this.hidden;
      this.start();
      for (const section of sections) this.prune(section.fields || [], this.values, '', hidden);
      this.hidden = new Set(hidden); // hidden calculations are not made
      this.calculate();
      this.hidden = new Set();
      this.dropped = false;
      shown = this.visibility();
      if (this.hidden.size === hidden.size && [...hidden].every((p) => this.hidden.has(p))) return shown;
    }
    this.calculate(); // no stable state: at least the values agree with the last visibility
    return shown;
  }

  prune(fields, container, prefix, hidden) {
    for (const f of fields) {
      const path = prefix + f.id;
      if (hidden.has(path)) {
        delete container[f.id];
      } else if (f.type === 'group' && Array.isArray(container[f.id])) {
        container[f.id].forEach((item, i) => {
          if (isObject(item)) this.prune(f.fields || [], item, `${path}[${i}].`, hidden);
        });
      }
    }
  }

  validate(shown) {
    this.required = [];
    for (const inst of this.instances()) {
      if (shown.has(inst.path) && !hasOwn(inst.field, 'calculate') && inst.field.type !== 'notice' &&
          !this.refused.has(inst.path)) this.validateOne(inst, shown);
    }
  }

  isRequired(f, scope) { return Boolean(f.required) || (hasOwn(f, 'required_if') && this.cond(f.required_if, scope, false)); }

  // A shown postal_code field linked to an address (same container) carries its postal code: the address
  // neither asks for it nor counts it as an answer; a required japan_only address makes the code required,
  // and the code the address holds answers the postal code field (as forms.py).
  validateOne(inst, shown) {
    const f = inst.field;
    let value = hasOwn(inst.container, f.id) ? inst.container[f.id] : null;
    const scope = this.scopeOf(inst);
    const base = inst.path.slice(0, inst.path.length - f.id.length);
    const siblings = inst.siblings || [];
    const postal = f.type === 'address' && siblings.some((g) => g.type === 'postal_code' && g.address_field === f.id && shown.has(base + g.id));
    const address = f.type === 'postal_code' && f.address_field && shown.has(base + f.address_field)
      ? siblings.find((g) => g.id === f.address_field && g.type === 'address') : null;
    const required = this.isRequired(f, scope) ||
      Boolean(address && (!hasOwn(address, 'japan_only') || address.japan_only) && this.isRequired(address, scope));
    if (required) this.required.push(inst.path);
    if (address && isBlank(value)) {
      const held = hasOwn(inst.container, address.id) ? inst.container[address.id] : null;
      value = isObject(held) && hasOwn(held, 'postal_code') ? held.postal_code : null;
    }
    if (postal && isObject(value)) { value = { ...value }; delete value.postal_code; }
    if (isEmpty(value)) {
      if (required) this.error(inst, 'required');
      return;
    }
    this.currentScope = scope;
    const check = CHECKS[f.type || 'text'] || checkText;
    const problem = check(this, postal ? { ...f, japan_only: false } : f, value);
    if (problem !== null) {
      this.error(inst, problem[0], problem[1]);
      return;
    }
    if (hasOwn(f, 'constraint') && !this.cond(f.constraint, scope, false)) this.error(inst, 'constraint');
  }

  offered(f, scope) {
    const choices = f.choices || [];
    if (!hasOwn(f, 'choice_filter')) return choices.map((c) => c.value);
    let fv;
    try {
      fv = this.eval(f.choice_filter, scope);
    } catch (e) {
      if (!(e instanceof EvalError)) throw e;
      fv = null;
    }
    return choices.filter((c) => !hasOwn(c, 'filter') || c.filter === fv || (Array.isArray(fv) && fv.includes(c.filter)))
      .map((c) => c.value);
  }
}

const TYPE = ['type', {}];
const get = (f, k) => (hasOwn(f, k) ? f[k] : null);

function checkText(form, f, v) {
  if (typeof v !== 'string') return TYPE;
  const n = codePointLength(v);
  if (get(f, 'min_length') !== null && n < f.min_length) return ['min_length', { min_length: f.min_length }];
  if (get(f, 'max_length') !== null && n > f.max_length) return ['max_length', { max_length: f.max_length }];
  return null;
}

function checkNumber(form, f, v) {
  if (!isNumber(v) || !Number.isFinite(v)) return TYPE;
  if (get(f, 'min') !== null && v < f.min) return ['min', { min: f.min }];
  if (get(f, 'max') !== null && v > f.max) return ['max', { max: f.max }];
  if (f.step) {
    const q = (v - (f.min || 0)) / f.step;
    if (Math.abs(q - Math.round(q)) > 1e-9) return ['step', { step: f.step }];
  }
  return null;
}

function checkChoice(form, f, v) {
  if (typeof v !== 'string') return TYPE;
  return form.offered(f, form.currentScope).includes(v) ? null : ['choice', {}];
}

function checkMultichoice(form, f, v) {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return TYPE;
  const offered = form.offered(f, form.currentScope);
  if (v.some((x) => !offered.includes(x))) return ['choice', {}];
  if (get(f, 'min_selected') !== null && v.length < f.min_selected) return ['min_selected', { min_selected: f.min_selected }];
  if (get(f, 'max_selected') !== null && v.length > f.max_selected) return ['max_selected', { max_selected: f.max_selected }];
  return null;
}

function checkDate(form, f, v) {
  const parts = dateParts(v);
  if (parts === null || parts[2] === null) return ['date', {}];
  if (f.min && v < f.min) return ['min', { min: f.min }];
  if (f.max && v > f.max) return ['max', { max: f.max }];
  return null;
}

function checkWareki(form, f, v) {
  const parts = dateParts(v);
  return parts === null || (parts[2] === null && !f.allow_partial) ? ['wareki', {}] : null;
}

const stringCheck = (code, ok) => (form, f, v) => {
  if (typeof v !== 'string') return TYPE;
  return ok(v) ? null : [code, {}];
};

function checkPhone(form, f, v) {
  if (typeof v !== 'string') return TYPE;
  if (!isValidPhone(v) || (f.mobile_only && !/^0[789]0/.test(phoneDigits(v)))) return ['phone', {}];
  return null;
}

// null: not a {family, given} object; else whether both parts pass `ok`.
function partsOk(v, ok) {
  if (!isObject(v) || typeof v.family !== 'string' || typeof v.given !== 'string' ||
      !hasOwn(v, 'family') || !hasOwn(v, 'given')) return null;
  return ok(v.family) && ok(v.given);
}

// procedure_definitions/names.py: no name holds a control or bidirectional character (lone surrogates: refusal)
const NOT_IN_NAME = /[\0-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
const BAD_NAME = ['bad_text', {}];

function checkName(form, f, v) {
  if (f.single_part) return typeof v !== 'string' ? TYPE : NOT_IN_NAME.test(v) ? BAD_NAME : null;
  const parts = partsOk(v, (s) => s !== '');
  if (parts === null) return TYPE;
  if (NOT_IN_NAME.test(v.family + v.given)) return BAD_NAME;
  return parts ? null : ['name_parts', {}]; // half a name asks for the other half, never "required"
}

function checkKana(form, f, v) {
  if (!f.split) {
    if (typeof v !== 'string') return TYPE;
    return isKatakana(v) ? null : ['kana', {}];
  }
  const parts = partsOk(v, isKatakana);
  if (parts === null) return TYPE;
  return parts ? null : ['kana', {}];
}

function checkAddress(form, f, v) {
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string' || x === null)) return TYPE;
  if (ADDRESS_PARTS.some((k) => !hasOwn(v, k) || !v[k])) return ['address', {}];
  const code = hasOwn(v, 'postal_code') ? v.postal_code : null;
  const japanOnly = hasOwn(f, 'japan_only') ? f.japan_only : true;
  if ((japanOnly || code) && !(typeof code === 'string' && POSTAL.test(code))) return ['address', {}];
  return null;
}

const accepts = (accept, mime) => accept.some((a) => a === mime || (a.endsWith('/*') && mime.startsWith(a.slice(0, -1))));

function checkAttachment(form, f, v) {
  if (!Array.isArray(v)) return TYPE;
  for (const a of v) {
    if (!(isObject(a) && typeof a.sha256 === 'string' && SHA256.test(a.sha256) && typeof a.name === 'string' &&
        isNumber(a.size) && a.size >= 0 && typeof a.type === 'string')) return TYPE;
  }
  const maxFiles = hasOwn(f, 'max_files') ? f.max_files : 1;
  if (v.length > maxFiles) return ['max_items', { max: maxFiles }];
  const maxMb = hasOwn(f, 'max_size_mb') ? f.max_size_mb : 10;
  for (const a of v) {
    if (!accepts(f.accept || [], a.type)) return ['attachment_type', {}];
    if (a.size > maxMb * 1024 * 1024) return ['attachment_size', { max_size_mb: maxMb }];
  }
  return null;
}

function checkGroup(form, f, v) {
  if (!Array.isArray(v) || !v.every(isObject)) return TYPE;
  if (get(f, 'min') !== null && v.length < f.min) return ['min_items', { min: f.min }];
  if (get(f, 'max') !== null && v.length > f.max) return ['max_items', { max: f.max }];
  return null;
}

const CHECKS = {
  text: checkText,
  longtext: checkText,
  number: checkNumber,
  yesno: (form, f, v) => (typeof v === 'boolean' ? null : TYPE),
  choice: checkChoice,
  multichoice: checkMultichoice,
  date: checkDate,
  wareki: checkWareki,
  email: stringCheck('email', (s) => EMAIL.test(s)),
  phone: checkPhone,
  name: checkName,
  kana: checkKana,
  postal_code: stringCheck('postal_code', (s) => POSTAL.test(s)),
  address: checkAddress,
  my_number: stringCheck('my_number', isValidMyNumber),
  corporate_number: stringCheck('corporate_number', isValidCorporateNumber),
  attachment: checkAttachment,
  group: checkGroup,
  person: checkText, // a member_id; max_length written by compile (PERSON_ID_MAX_LENGTH)
};

/** Evaluate a compiled procedure against answers: {shown, values, errors, valid}. Never throws on bad answers. */
export function evaluateForm(compiled, answers, { today = null, filer = 'resident' } = {}) {
  const form = new Form(compiled, answers, today, filer);
  const settled = form.calculate();
  let shown = form.visibility();
  // A dropped value may have been read by a condition or a calculation: settle to the fixed point.
  if (form.dropped || !settled) shown = form.settle();
  form.validate(new Set(shown));
  return { shown, values: form.values, errors: form.errors, valid: form.errors.length === 0, required: form.required };
}
