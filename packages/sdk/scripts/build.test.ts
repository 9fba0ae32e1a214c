import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BUDGETS, buildSdk, formatSizes } from './build.ts';

test('the SDK bundles stay within their size budgets, and the recorder stays out of the core', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'sightline-sdk-build-'));
  try {
    const sizes = await buildSdk(out);
    const { lines, ok } = formatSizes(sizes);
    for (const line of lines) console.log(line);
    assert.ok(ok, 'a bundle is over budget');
    const size = (file: string) => sizes.find((s) => s.file === file)!;
    assert.ok(size('sightline.iife.js').gzip <= BUDGETS.core);
    assert.ok(size('sightline-recorder.iife.js').gzip <= BUDGETS.recorder);
    // rrweb lives only in the lazily loaded chunk: the core must not carry any of it.
    const core = readFileSync(path.join(out, 'sightline.iife.js'), 'utf8');
    const esmCore = readFileSync(path.join(out, 'esm/index.js'), 'utf8');
    for (const text of [core, esmCore]) assert.ok(!text.includes('takeFullSnapshot'), 'rrweb is in the core bundle');
    assert.ok(readFileSync(path.join(out, 'sightline-recorder.iife.js'), 'utf8').includes('takeFullSnapshot'));
    // The ESM recorder is one chunk, imported dynamically, and it carries rrweb.
    const lazy = sizes[3]!.file.split(' + ');
    assert.equal(lazy.length, 1, 'the ESM build splits the recorder into one chunk');
    assert.ok(readFileSync(path.join(out, lazy[0]!), 'utf8').includes('takeFullSnapshot'));
    assert.ok(sizes[2]!.gzip <= BUDGETS.core, 'the ESM core with its eager chunks');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
