import assert from 'node:assert/strict';
import { test } from 'node:test';
import { utf8Length, uuid } from './ids.ts';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('uuid() gives distinct v4 ids, also without crypto.randomUUID (insecure contexts)', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) seen.add(uuid());
  assert.equal(seen.size, 200);
  for (const id of seen) assert.match(id, V4);

  const original = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(globalThis.crypto), 'randomUUID')!;
  Object.defineProperty(Object.getPrototypeOf(globalThis.crypto), 'randomUUID', { value: undefined, configurable: true });
  try {
    const fallback = new Set<string>();
    for (let i = 0; i < 200; i++) fallback.add(uuid());
    assert.equal(fallback.size, 200);
    for (const id of fallback) assert.match(id, V4);
  } finally {
    Object.defineProperty(Object.getPrototypeOf(globalThis.crypto), 'randomUUID', original);
  }
});

test('utf8Length counts bytes as the wire does, lone surrogates as U+FFFD', () => {
  for (const text of ['', 'abc', 'é', '€', '😀', 'a😀b€é', '\u0000']) assert.equal(utf8Length(text), Buffer.byteLength(text, 'utf8'), text);
  assert.equal(utf8Length('\ud800'), 3);
  assert.equal(utf8Length('x\udc00y'), 5);
});
