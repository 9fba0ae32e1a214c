import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventRow } from '../storage/clickhouse/events.ts';
import { eventLines } from './event-lines.ts';

const row = (user: string | null, data: Record<string, unknown>): EventRow => ({
  event_type: '$click',
  event_at: 1_700_000_000_123,
  data,
  project_id: 'p"1',
  branch_id: 'main',
  user_id: user,
  team_id: null,
  refresh_token_id: 'rt',
  session_replay_id: null,
  session_replay_segment_id: 'seg',
});

test('each line holds the same keys and values as JSON.stringify({...row, batch_id})', () => {
  const rows = [row('u1', { a: 1, s: 'x\n"y' }), row('u1', {}), row('u2', { nested: [1, { b: null }] }), row(null, { c: true })];
  for (const batchId of ['b1', null]) {
    const lines = eventLines(rows, batchId).split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(
      lines.map((line) => JSON.parse(line)),
      rows.map((r) => JSON.parse(JSON.stringify({ ...r, batch_id: batchId }))),
    );
  }
});
