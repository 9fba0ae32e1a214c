import assert from 'node:assert/strict';
import { test } from 'node:test';
import { correctEventTime, MAX_EVENT_AGE_MS, MAX_EVENT_LEAD_MS } from './clock.ts';

const received = Date.UTC(2026, 10, 24, 12, 0, 0);

test('an accurate client keeps its times', () => {
  assert.equal(correctEventTime(received - 3000, received, received), received - 3000);
});

test('a skewed client is shifted by the offset between sent_at and receipt', () => {
  const slow = 3600_000; // the client's clock runs an hour behind
  assert.equal(correctEventTime(received - slow - 2000, received - slow, received), received - 2000);
  const fast = 90_000; // ninety seconds ahead
  assert.equal(correctEventTime(received + fast - 500, received + fast, received), received - 500);
});

test('future and ancient times are clamped to the window', () => {
  assert.equal(correctEventTime(received + 3600_000, received, received), received + MAX_EVENT_LEAD_MS);
  assert.equal(correctEventTime(0, received, received), received - MAX_EVENT_AGE_MS);
  assert.equal(correctEventTime(received - 30 * 86400_000, undefined, received), received - MAX_EVENT_AGE_MS);
});
