/**
 * chDB alone, no HTTP: inserts group-commit-sized JSONEachRow blocks into a fresh
 * `analytics_internal.events` through N sessions at once, and prints insert
 * latency (p50/p99/max, the slow ones with their times), rows/s and process CPU
 * per row. Answers "are slow inserts per connection or engine-wide?" and "what
 * does an insert setting cost or save?".
 *
 * Usage: node --import tsx bench/ingest/engine-probe.ts
 *   env PROBE_ROWS (2200 rows per insert), PROBE_SECONDS (15), PROBE_SESSIONS (1),
 *   PROBE_SETTINGS (JSON object of insert settings), PROBE_TABLE_SETTINGS (SQL after MODIFY SETTING)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Session } from 'chdb';
import { openClickHouse } from '../../apps/server/src/storage/clickhouse/client.ts';
import { inProcessLock, runClickHouseMigrations } from '../../apps/server/src/storage/clickhouse/migrations.ts';
import { EVENTS_TABLE } from '../../apps/server/src/storage/clickhouse/events.ts';
import { browserEvents, prng, uuid } from './payloads.ts';
import { coresByThreadName, machineBusySeconds, threadCpu } from './proc.ts';

const ROWS = Number(process.env.PROBE_ROWS ?? 2200);
const SECONDS = Number(process.env.PROBE_SECONDS ?? 15);
const SESSIONS = Number(process.env.PROBE_SESSIONS ?? 1);
/** Paced: each session starts an insert at most every this many ms (0 = back to back). */
const INTERVAL_MS = Number(process.env.PROBE_INTERVAL_MS ?? 0);
const SETTINGS = JSON.parse(process.env.PROBE_SETTINGS ?? '{}') as Record<string, string | number>;

function block(rows: number, random: () => number): Buffer {
  const lines: string[] = [];
  const now = Date.now();
  while (lines.length < rows) {
    const batchId = uuid();
    const user = uuid();
    for (const event of browserEvents(random, Math.min(50, rows - lines.length), now - Math.floor(random() * 20_000))) {
      lines.push(
        `${JSON.stringify({
          event_type: event.event_type,
          event_at: event.event_at_ms,
          data: event.data,
          project_id: '7d0c3c38-0e4a-4bd0-9c55-0e0f3a3b8f10',
          branch_id: 'main',
          user_id: user,
          team_id: null,
          refresh_token_id: user,
          session_replay_id: null,
          session_replay_segment_id: batchId,
          batch_id: batchId,
        })}\n`,
      );
    }
  }
  return Buffer.from(lines.join(''));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sightline-probe-'));
  const chDir = path.join(dir, 'clickhouse');
  const ch = await openClickHouse({ kind: 'embedded', dataDir: chDir, connections: 1 });
  await runClickHouseMigrations(ch, { lock: inProcessLock() });
  if (process.env.PROBE_TABLE_SETTINGS) {
    await ch.command({ name: 'probe.table-settings', sql: `ALTER TABLE ${EVENTS_TABLE} MODIFY SETTING ${process.env.PROBE_TABLE_SETTINGS}` });
  }
  for (const sql of (process.env.PROBE_SQL ?? '').split(';').filter((x) => x.trim())) await ch.command({ name: 'probe.sql', sql });
  if (process.env.PROBE_STOP_MERGES) await ch.command({ name: 'probe.stop-merges', sql: `SYSTEM STOP MERGES ${EVENTS_TABLE}` });
  const random = prng(11);
  const blocks = Array.from({ length: 40 }, () => block(ROWS, random));
  const sessions = Array.from({ length: SESSIONS }, () => new Session(path.resolve(chDir)));
  const latencies: { at: number; ms: number; session: number }[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const machine0 = machineBusySeconds();
  const threads0 = threadCpu(process.pid);
  let next = 0;
  await Promise.all(
    sessions.map(async (session, s) => {
      while (performance.now() - t0 < SECONDS * 1000) {
        const body = blocks[next++ % blocks.length]!;
        // Fresh batch ids: identical blocks would be deduplicated by the table.
        const fresh = Buffer.from(body.toString('latin1').replace(/"batch_id":"[^"]+"/g, () => `"batch_id":"${uuid()}"`), 'latin1');
        const start = performance.now();
        await session.insert({ table: EVENTS_TABLE, values: fresh, format: 'JSONEachRow', settings: { log_comment: 'probe', ...SETTINGS } });
        latencies.push({ at: start - t0, ms: performance.now() - start, session: s });
        const wait = INTERVAL_MS - (performance.now() - start);
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const threads = coresByThreadName(process.pid, threads0, threadCpu(process.pid), wall);
  const machine = (machineBusySeconds() - machine0) / wall;
  const sorted = latencies.map((l) => l.ms).sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  const rows = latencies.length * ROWS;
  const cores = (cpu.user + cpu.system) / 1e6 / wall;
  console.log(`${SESSIONS} session(s), ${ROWS}-row inserts, settings ${JSON.stringify(SETTINGS)} ${process.env.PROBE_TABLE_SETTINGS ?? ''}`);
  console.log(`  ${latencies.length} inserts, ${Math.round(rows / wall).toLocaleString('en-US')} rows/s, latency p50 ${q(0.5).toFixed(0)} p90 ${q(0.9).toFixed(0)} p99 ${q(0.99).toFixed(0)} max ${q(1).toFixed(0)} ms`);
  console.log(`  process ${cores.toFixed(2)} cores = ${((cores * wall * 1e6) / rows).toFixed(1)} µs/row; other processes ${(machine - cores).toFixed(2)} cores`);
  console.log(`  threads: ${threads.slice(0, 8).map((t) => `${t.name} ${t.cores.toFixed(2)}`).join(', ')}`);
  const slow = latencies.filter((l) => l.ms > Math.max(3 * q(0.5), 40));
  console.log(`  slow (> max(3×p50, 40 ms)): ${slow.map((l) => `${(l.at / 1000).toFixed(2)}s#${l.session}:${l.ms.toFixed(0)}`).join(' ')}`);
  for (const session of sessions) session.close();
  const parts = await ch.query<{ n: string; active: string }>({
    name: 'probe.parts',
    sql: `SELECT count() AS n, countIf(active) AS active FROM system.parts WHERE database = 'analytics_internal' AND table = 'events'`,
  });
  console.log(`  parts: ${JSON.stringify(parts[0])}`);
  if (process.env.PROBE_PART_LOG) {
    const t0Ms = Date.now() - wall * 1000;
    const log = await ch.query<Record<string, unknown>>({
      name: 'probe.part-log',
      sql: `SELECT event_type, round(toUnixTimestamp64Milli(event_time_microseconds) / 1000 - {t0:Float64}, 2) AS at, duration_ms, rows, part_name
            FROM system.part_log WHERE table = 'events' AND event_type != 'NewPart' AND duration_ms > 0 ORDER BY event_time_microseconds`,
      params: { t0: t0Ms / 1000 },
    }).catch((error: unknown) => [{ error: String(error) }]);
    for (const row of log) console.log(`  part_log ${JSON.stringify(row)}`);
  }
  await ch.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
