import { luhnValid } from '../../stages/sensitive.js';
import type { Finding, RuleResult } from '../schema.js';
import { type RuleContext, result } from './common.js';

export type SensitiveKind = 'phone' | 'ssn' | 'card' | 'email' | 'other';

const digitsOf = (s: string) => s.replace(/\D/g, '');

/** The kind of a declared value, from its field name, else from its shape. */
export function kindOf(field: string, value: string): SensitiveKind {
  const f = field.toLowerCase();
  if (/ssn|social.?security/.test(f)) return 'ssn';
  if (/card/.test(f)) return 'card';
  if (/e.?mail/.test(f)) return 'email';
  if (/phone|mobile|\btel/.test(f)) return 'phone';
  const shaped = scanText(value);
  return shaped.length === 1 && shaped[0]!.value.length >= value.trim().length - 2 ? shaped[0]!.kind : 'other';
}

/**
 * Published test card numbers and prefixes of the card networks (documentation and sandbox
 * numbers that no issuer hands out).
 */
const TEST_CARD_PREFIXES = [
  '400000',
  '411111',
  '424242',
  '401288',
  '400005',
  '555555',
  '510510',
  '222300',
  '378282',
  '371449',
  '601111',
  '601100',
  '353011',
  '356600',
  '305693',
  '385200',
  '620000',
];

/** Why a value of this kind could belong to a real person, or null when it is in a reserved range. */
export function couldBeReal(kind: SensitiveKind, value: string): string | null {
  switch (kind) {
    case 'phone': {
      let d = digitsOf(value);
      if (d.length === 11 && d.startsWith('1')) d = d.slice(1);
      if (d.length === 10 && d.slice(3, 6) === '555' && d.slice(6, 8) === '01') return null;
      if (d.length === 7 && d.slice(0, 3) === '555' && d.slice(3, 5) === '01') return null;
      return 'a phone number outside 555-01xx, the range reserved for fiction';
    }
    case 'ssn': {
      const d = digitsOf(value);
      if (d.length !== 9) return null;
      const area = Number(d.slice(0, 3));
      if (area === 0 || area === 666 || area >= 900 || d.slice(3, 5) === '00' || d.slice(5) === '0000') return null;
      return 'an SSN outside the never-issued areas (000, 666, 900-999) and with a valid group and serial';
    }
    case 'card': {
      const d = digitsOf(value);
      if (d.length < 12 || d.length > 19 || !luhnValid(d)) return null;
      if (TEST_CARD_PREFIXES.some((p) => d.startsWith(p))) return null;
      return "a card number that passes the Luhn check and is outside the networks' test ranges";
    }
    case 'email': {
      const domain =
        value
          .split('@')[1]
          ?.toLowerCase()
          .replace(/[>.\s]+$/, '') ?? '';
      if (/(^|\.)example\.(com|org|net)$/.test(domain) || /\.(test|example|invalid|localhost)$/.test(domain)) return null;
      return 'an email address outside the reserved domains (example.com/.org/.net, .test, .example, .invalid)';
    }
    case 'other':
      return null;
  }
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const SSN = /(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])/g;
const CARD = /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g;
const PHONE = /(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|(?<![\d-])\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\d-])/g;

/** Values in free text that look like an email, an SSN, a card number (passing Luhn) or a North American phone number. */
export function scanText(text: string): Array<{ kind: SensitiveKind; value: string }> {
  const out: Array<{ kind: SensitiveKind; value: string }> = [];
  let rest = text;
  for (const m of rest.match(EMAIL) ?? []) out.push({ kind: 'email', value: m });
  rest = rest.replace(EMAIL, ' ');
  for (const m of rest.match(SSN) ?? []) out.push({ kind: 'ssn', value: m });
  rest = rest.replace(SSN, ' ');
  for (const m of rest.match(CARD) ?? []) if (luhnValid(m)) out.push({ kind: 'card', value: m });
  rest = rest.replace(CARD, ' ');
  for (const m of rest.match(PHONE) ?? []) out.push({ kind: 'phone', value: m.trim() });
  return out;
}

const normText = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();

/** Whether `text` shows `value` unmasked: the same digits in one number, or the same text. */
export function showsValue(text: string, kind: SensitiveKind, value: string): boolean {
  const d = digitsOf(value);
  const numeric =
    kind === 'phone' || kind === 'ssn' || kind === 'card' || (d.length >= 7 && d.length >= value.replace(/\s/g, '').length * 0.6);
  if (numeric) {
    if (d.length < 6) return false;
    for (const m of text.match(/\+?\(?\d[\d\s().-]*\d/g) ?? []) if (digitsOf(m) === d) return true;
    return false;
  }
  const v = normText(value);
  return v.length >= 6 && normText(text).includes(v);
}

/**
 * Sensitive info: (1) a user's sensitive value, or an SSN or card number, unmasked in a gold
 * answer; (2) a synthetic value that could be real (declared values, and values found in options
 * and evidence sessions).
 */
export function sensitiveInfo(ctx: RuleContext): RuleResult {
  const { dataset } = ctx;
  const findings: Finding[] = [];
  const byUser = new Map(dataset.users.map((u) => [u.persona_id, u.sensitive.map((s) => ({ ...s, kind: kindOf(s.field, s.value) }))]));
  let unmasked = 0;
  for (const item of dataset.items) {
    const gold = item.correct_answer;
    const shown = new Set<string>();
    for (const s of byUser.get(item.persona_id) ?? []) {
      if (!showsValue(gold, s.kind, s.value)) continue;
      shown.add(digitsOf(s.value) || normText(s.value));
      findings.push({
        rule: 'sensitive_info',
        id: item.id,
        message: `the gold answer shows the user's ${s.field} "${s.value}" unmasked`,
        detail: { check: 'unmasked', field: s.field, value: s.value, declared: s.ref },
      });
      unmasked++;
    }
    for (const hit of scanText(gold)) {
      if ((hit.kind !== 'ssn' && hit.kind !== 'card') || shown.has(digitsOf(hit.value))) continue;
      findings.push({
        rule: 'sensitive_info',
        id: item.id,
        message: `the gold answer shows an ${hit.kind === 'ssn' ? 'SSN' : 'card number'} "${hit.value}" unmasked`,
        detail: { check: 'unmasked', field: hit.kind, value: hit.value },
      });
      unmasked++;
    }
  }

  // Values that could be real: each distinct value once, at its first place.
  const seen = new Set<string>();
  let checked = 0;
  let real = 0;
  const consider = (kind: SensitiveKind, value: string, where: string, field: string) => {
    const key = `${kind}\u0000${kind === 'email' ? value.toLowerCase() : digitsOf(value) || value}`;
    if (kind === 'other' || seen.has(key)) return;
    seen.add(key);
    checked++;
    const why = couldBeReal(kind, value);
    if (!why) return;
    real++;
    findings.push({
      rule: 'sensitive_info',
      id: where,
      message: `${field} "${value}" could be real: ${why}`,
      detail: { check: 'could_be_real', kind, field, value },
    });
  };
  for (const u of dataset.users) {
    for (const s of u.sensitive) {
      const kind = kindOf(s.field, s.value);
      if (kind !== 'other') consider(kind, s.value, s.ref, s.field);
      else for (const hit of scanText(s.value)) consider(hit.kind, hit.value, s.ref, s.field);
    }
  }
  for (const item of dataset.items) {
    const texts = [...item.options, ...(item.evidence ?? []).filter((m) => m.role === 'user').map((m) => m.content)];
    for (const text of texts) for (const hit of scanText(text)) consider(hit.kind, hit.value, item.id, hit.kind);
  }
  return result(
    'sensitive_info',
    dataset.items.length + checked,
    findings,
    `${unmasked} unmasked value(s) in gold answers; ${real} of ${checked} phone, SSN, card and email values could be real`,
  );
}
