import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nextDelay, outcomeOf, retryAfterMs } from './retry.ts';

describe('nextDelay', () => {
  test('attempt n waits between half and all of min(60 s, 1 s · 2^n)', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(60_000, 1_000 * 2 ** attempt);
      assert.equal(nextDelay(attempt, () => 0), ceiling / 2, `attempt ${attempt}, random 0`);
      assert.equal(nextDelay(attempt, () => 1), ceiling, `attempt ${attempt}, random 1`);
      const middle = nextDelay(attempt, () => 0.5);
      assert.ok(middle > ceiling / 2 && middle < ceiling, `attempt ${attempt}: ${middle}`);
    }
  });

  test('the first retries grow: 500–1000, 1000–2000, 2000–4000 ms', () => {
    assert.deepEqual([0, 1, 2].map((a) => [nextDelay(a, () => 0), nextDelay(a, () => 1)]), [
      [500, 1_000],
      [1_000, 2_000],
      [2_000, 4_000],
    ]);
  });

  test('never more than 60 s, even for absurd attempt numbers', () => {
    for (const attempt of [6, 7, 20, 100, 5_000]) {
      assert.equal(nextDelay(attempt, () => 1), 60_000);
      assert.equal(nextDelay(attempt, () => 0), 30_000);
    }
  });

  test('uses Math.random by default and stays inside the range', () => {
    for (let i = 0; i < 50; i++) {
      const delay = nextDelay(3);
      assert.ok(delay >= 4_000 && delay <= 8_000, String(delay));
    }
  });
});

describe('outcomeOf', () => {
  test('2xx is sent, 0 / 429 / 5xx are retried, other 4xx are dropped', () => {
    const statuses = [200, 204, 400, 401, 413, 429, 500, 503, 0];
    assert.deepEqual(Object.fromEntries(statuses.map((s) => [s, outcomeOf(s)])), {
      200: 'sent',
      204: 'sent',
      400: 'drop',
      401: 'drop',
      413: 'drop',
      429: 'retry',
      500: 'retry',
      503: 'retry',
      0: 'retry',
    });
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2030-05-01T12:00:00Z');

  test('delta seconds', () => {
    assert.equal(retryAfterMs('0', now), 0);
    assert.equal(retryAfterMs('2', now), 2_000);
    assert.equal(retryAfterMs('45', now), 45_000);
  });

  test('an HTTP date, relative to now; a past date means now', () => {
    assert.equal(retryAfterMs(new Date(now + 7_000).toUTCString(), now), 7_000);
    assert.equal(retryAfterMs('Wed, 01 May 2030 12:00:30 GMT', now), 30_000);
    assert.equal(retryAfterMs(new Date(now - 7_000).toUTCString(), now), 0);
  });

  test('capped at the 60 s backoff ceiling', () => {
    assert.equal(retryAfterMs('3600', now), 60_000);
    assert.equal(retryAfterMs(new Date(now + 3_600_000).toUTCString(), now), 60_000);
  });

  test('absent or unreadable is undefined, so the backoff decides', () => {
    // ' ' and '-3' are not delta seconds, and 'abc 5' is no HTTP date, though Number()
    // and V8's lenient Date.parse read them as 0, -3 and a day in 2001 (= "retry now").
    for (const header of [null, '', 'soon', 'Infinity', ' ', '-3', 'abc 5', '1 2']) {
      assert.equal(retryAfterMs(header, now), undefined, JSON.stringify(header));
    }
  });
});
