import assert from 'node:assert/strict';
import { test } from 'node:test';
import { storableJson } from './storable-json.ts';

test('lone surrogates in keys and values become U+FFFD, valid pairs stay', () => {
  const input = JSON.parse('{"a\\ud800": ["x\\udc00y", {"\\udfff": "ok \\ud83d\\ude00"}], "n": 1, "z": null}');
  assert.deepEqual(storableJson(input), { 'a\ufffd': ['x\ufffdy', { '\ufffd': 'ok 😀' }], n: 1, z: null });
});

test('deep nesting does not exhaust the stack', () => {
  let value: unknown = 'leaf\ud800';
  for (let i = 0; i < 100_000; i++) value = { v: value };
  let out = storableJson(value) as { v: unknown };
  for (let i = 0; i < 100_000; i++) out = out.v as { v: unknown };
  assert.equal(out, 'leaf\ufffd');
});

test('integers beyond 64 bits are kept as their decimal text; others stay numbers', () => {
  assert.deepEqual(storableJson({ a: 1e20, b: -1e19, c: [2 ** 64], d: 2 ** 63, e: -(2 ** 63), f: 1.5e300, g: 42 }), {
    a: '100000000000000000000',
    b: '-10000000000000000000',
    c: [String(2 ** 64)],
    d: 2 ** 63,
    e: -(2 ** 63),
    f: 1.5e300,
    g: 42,
  });
});
