import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkFile, layerOf } from './lint-deps.ts';

test('layers are read from repository paths', () => {
  assert.equal(layerOf('apps/server/src/ingest/writer.ts'), 'ingest');
  assert.equal(layerOf('apps/server/src/http/app.ts'), 'http');
  assert.equal(layerOf('apps/server/src/main.ts'), 'root');
  assert.equal(layerOf('packages/protocol/src/errors.ts'), 'protocol');
  assert.equal(layerOf('scripts/x.ts'), undefined);
});

test('a capability importing another capability is a violation, resolved through relative paths', () => {
  const v = checkFile('apps/server/src/ingest/x.ts', "import { a } from '../auth/../query/runner.ts';\n");
  assert.equal(v.length, 1);
  assert.match(v[0]!.message, /ingest must not import query/);
});

test('the core must not import a capability; storage must not import http', () => {
  assert.equal(checkFile('apps/server/src/http/app.ts', "import '../sync/engine.ts';").length, 1);
  assert.equal(checkFile('apps/server/src/storage/clickhouse/client.ts', "import '../../http/app.ts';").length, 1);
});

test('allowed directions pass', () => {
  const source = "import '../http/route.ts';\nimport '../storage/clickhouse/client.ts';\nimport '@sightline/protocol';\n";
  assert.deepEqual(checkFile('apps/server/src/ingest/routes.ts', source), []);
});

test('only config.ts reads process.env', () => {
  assert.equal(checkFile('apps/server/src/main.ts', 'const p = process.env.PORT;').length, 1);
  assert.deepEqual(checkFile('apps/server/src/config.ts', 'const p = process.env.PORT;'), []);
});
