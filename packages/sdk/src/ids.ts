/**
 * A random UUID v4. `crypto.randomUUID` exists only in secure contexts;
 * `getRandomValues` everywhere, so plain-http pages still get proper ids.
 *
 * @example
 * const batchId = uuid();
 */
export function uuid(): string {
  const crypto = globalThis.crypto;
  if (crypto.randomUUID) return crypto.randomUUID();
  // Each template digit becomes a random hex digit; the 4 (version) stays, the 8 gets the variant bits.
  return '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
    (Number(c) ^ (crypto.getRandomValues(new Uint8Array(1))[0]! & (15 >> (Number(c) / 4)))).toString(16),
  );
}

/**
 * Bytes of `text` as UTF-8 (lone surrogates count as the U+FFFD they become):
 * batch and piece limits are in bytes on the wire, and `string.length` undercounts
 * anything non-ASCII.
 *
 * @example
 * utf8Length('é'); // 2
 */
export function utf8Length(text: string): number {
  // Counted by hand: a Blob or TextEncoder per event would cost more than the click it measures.
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) (bytes += 4), i++;
    // Other code units, lone surrogates included (sent as U+FFFD), are 3 bytes.
    else bytes += 3;
  }
  return bytes;
}
