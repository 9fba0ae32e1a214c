export { NO_CAPTURE } from './no-capture.ts';

/**
 * Parameters whose values are removed from captured URLs unless configured otherwise: these
 * names, and any name containing `token`, `secret`, `passw`, `pwd`, `session` or `api(_)key`.
 */
export const SENSITIVE_PARAM = /^(code|otp|key|signature|sig|auth)$|token|secret|passw|pwd|session|api_?key/i;

/**
 * Whether text typed or chosen by the user lives in this element: form fields,
 * options, contenteditable regions. The tracker never reads their text.
 *
 * @example
 * isUserInput(document.querySelector('textarea')!); // true
 */
export function isUserInput(element: Element): boolean {
  if (/^(INPUT|TEXTAREA|SELECT|OPTION)$/.test(element.tagName)) return true;
  // Editability is inherited: the nearest element with the attribute decides.
  const editable = element.closest('[contenteditable]')?.getAttribute('contenteditable');
  return editable != null && editable !== 'false';
}

const CARD = /(?:\d[ -]?){12,18}\d/g;
const EMAIL = /[^\s@<>()]+@[^\s@<>()]+\.[a-z]{2,}/i;

/**
 * Whether text carries something personal: an email address, or digits that
 * pass the Luhn check like a payment card number.
 *
 * @example
 * looksPersonal('Pay with 4111 1111 1111 1111'); // true
 */
export function looksPersonal(text: string): boolean {
  if (EMAIL.test(text)) return true;
  for (const match of text.match(CARD) ?? []) if (luhn(match.replace(/\D/g, ''))) return true;
  return false;
}

/** From the right, every second digit doubled (its digits summed): a valid number sums to a multiple of 10. */
function luhn(digits: string): boolean {
  let sum = 0;
  [...digits].reverse().forEach((digit, i) => {
    const d = Number(digit) * (1 + (i % 2));
    sum += d > 9 ? d - 9 : d;
  });
  return sum % 10 === 0;
}

/**
 * Which query (and fragment) parameters lose their values: `true` strips every
 * one, `false` none, a list adds names to the defaults.
 */
export type StripQueryParams = boolean | readonly string[];

/**
 * `href` with the values of sensitive parameters emptied, in the query and in a
 * parameter-style fragment (OAuth implicit flows put `access_token` there).
 *
 * @example
 * stripUrl('https://a.example/cb?code=abc&x=1', undefined); // 'https://a.example/cb?code=&x=1'
 */
export function stripUrl(href: string, option: StripQueryParams | undefined, base?: string): string {
  let url: URL;
  try {
    url = new URL(href, base);
  } catch {
    return href;
  }
  // Credentials in the authority (`https://user:pass@host`) never leave, whatever the option.
  url.username = url.password = '';
  if (option === false) return url.href;
  const extra = Array.isArray(option) ? option.map((n) => n.toLowerCase()) : [];
  const sensitive = (name: string) => option === true || SENSITIVE_PARAM.test(name) || extra.includes(name.toLowerCase());
  const clean = (params: URLSearchParams) => {
    let changed = false;
    for (const [name, value] of [...params]) {
      if (value !== '' && sensitive(name)) (params.set(name, ''), (changed = true));
    }
    return changed;
  };
  if (clean(url.searchParams)) url.search = url.searchParams.toString();
  if (url.hash.includes('=')) {
    // A hash route (`#/callback?code=…`) keeps its path; its parameters follow the '?'. Only a '?'
    // before the first '=' ends a route: in `#access_token=…&next=/a?b=1` it is part of a value.
    const hash = url.hash.slice(1);
    const start = /^[^=?]*\?/.exec(hash)?.[0].length ?? 0;
    const fragment = new URLSearchParams(hash.slice(start));
    if (clean(fragment)) url.hash = hash.slice(0, start) + fragment;
  }
  return url.href;
}
