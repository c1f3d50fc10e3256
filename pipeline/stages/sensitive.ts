import type { Rng } from '../core/rng.js';

/**
 * Synthetic sensitive values that cannot belong to anyone: reserved or test ranges only.
 * Phones 555-01xx (reserved for fiction), mail at example.com (RFC 2606), SSNs with area 9xx (never
 * issued), card numbers from the card networks' published test ranges with a check digit that
 * fails Luhn, passports prefixed "X0" with nine digits, IBAN-like numbers with the XX country code.
 */
export const SENSITIVE_FIELDS = ['phone', 'email', 'ssn', 'card', 'address', 'passport', 'bank_account', 'date_of_birth'] as const;
export type SensitiveField = (typeof SENSITIVE_FIELDS)[number];

const digits = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.int(10)).join('');

export function luhnValid(number: string): boolean {
  const ds = number.replace(/\D/g, '');
  let sum = 0;
  for (let i = 0; i < ds.length; i++) {
    let d = Number(ds[ds.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return ds.length > 0 && sum % 10 === 0;
}

export function syntheticValue(field: SensitiveField, rng: Rng, name: string): string {
  switch (field) {
    case 'phone':
      return `+1 (${rng.pick(['212', '312', '415', '503', '617'])}) 555-01${digits(rng, 2)}`;
    case 'email':
      return `${name
        .toLowerCase()
        .replace(/[^a-z]+/g, '.')
        .replace(/^\.|\.$/g, '')}${rng.int(90) + 10}@example.com`;
    case 'ssn':
      return `9${digits(rng, 2)}-${digits(rng, 2)}-${digits(rng, 4)}`;
    case 'card': {
      // Visa's test prefix 4000 00; the last digit is chosen so the number fails Luhn.
      const body = `400000${digits(rng, 9)}`;
      let last = 0;
      while (luhnValid(body + last)) last++;
      const n = body + last;
      return `${n.slice(0, 4)} ${n.slice(4, 8)} ${n.slice(8, 12)} ${n.slice(12)}`;
    }
    case 'address':
      return `${rng.int(900) + 100} Example Street, Apt ${rng.int(40) + 1}, Sampletown`;
    case 'passport':
      return `X0${digits(rng, 7)}`;
    case 'bank_account':
      return `XX00 TEST ${digits(rng, 4)} ${digits(rng, 4)}`;
    case 'date_of_birth':
      return `${rng.int(28) + 1} ${rng.pick(['March', 'June', 'September', 'November'])} 19${rng.int(40) + 50}`;
  }
}
