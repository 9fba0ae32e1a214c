import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wellFormedJson } from './well-formed.ts';

test('lone surrogates in keys and values become U+FFFD, valid pairs stay', () => {
  const input = JSON.parse('{"a\\ud800": ["x\\udc00y", {"\\udfff": "ok \\ud83d\\ude00"}], "n": 1, "z": null}');
  assert.deepEqual(wellFormedJson(input), { 'a\ufffd': ['x\ufffdy', { '\ufffd': 'ok 😀' }], n: 1, z: null });
});

test('deep nesting does not exhaust the stack', () => {
  let value: unknown = 'leaf\ud800';
  for (let i = 0; i < 100_000; i++) value = { v: value };
  let out = wellFormedJson(value) as { v: unknown };
  for (let i = 0; i < 100_000; i++) out = out.v as { v: unknown };
  assert.equal(out, 'leaf\ufffd');
});
