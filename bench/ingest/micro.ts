/**
 * What one 50-event browser batch costs the server's JavaScript thread, step
 * by step, replaying the ingestion path's own functions on pre-generated
 * bodies (no HTTP, no engine): body parse, schema validation, access-token
 * verification, row building, NDJSON serialisation, the chDB connection's
 * per-insert buffer-to-string copy, and the two PGlite lookups a request makes
 * on a cache miss (open replay of the refresh token, session still active). Companion to run.ts: where run.ts says how
 * fast, this says where the main thread's time per request goes.
 *
 * Usage: node --import tsx bench/ingest/micro.ts   (env MICRO_ITERATIONS, default 2000)
 */
import { randomUUID } from 'node:crypto';
import secureJson from 'secure-json-parse';
import { eventBatchSchema } from '@sightline/protocol';
import { hashSecret, matchesAnyHash } from '../../apps/server/src/auth/secrets.ts';
import { createTokenIssuer, loadOrCreateSigningKey } from '../../apps/server/src/auth/tokens.ts';
import { correctEventTime } from '../../apps/server/src/ingest/clock.ts';
import { eventLines } from '../../apps/server/src/ingest/event-lines.ts';
import { storableJson } from '../../apps/server/src/ingest/storable-json.ts';
import { isSessionActive } from '../../apps/server/src/auth/sessions.ts';
import { findOpenReplay } from '../../apps/server/src/replay/upload.ts';
import type { EventRow } from '../../apps/server/src/storage/clickhouse/events.ts';
import { openPostgres } from '../../apps/server/src/storage/postgres/db.ts';
import { runPostgresMigrations } from '../../apps/server/src/storage/postgres/migrations.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { browserEvents, prng } from './payloads.ts';

const ITERATIONS = Number(process.env.MICRO_ITERATIONS ?? 2000);
const EVENTS = 50;

type Step = { name: string; run: (i: number) => unknown };

/** Main-thread CPU per call (µs), measured with cpuUsage over many calls after a warm-up. */
async function measure(step: Step, iterations: number): Promise<{ cpuUs: number; wallUs: number }> {
  for (let i = 0; i < Math.min(200, iterations); i++) await step.run(i);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) await step.run(i);
  const wallUs = ((performance.now() - t0) * 1000) / iterations;
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / iterations, wallUs };
}

async function main(): Promise<void> {
  const random = prng(7);
  const now = Date.now();
  const segment = randomUUID();
  const bodies = Array.from({ length: 64 }, (_, i) =>
    JSON.stringify({
      session_replay_segment_id: segment,
      batch_id: randomUUID(),
      sent_at_ms: now - 3 + (i % 5),
      events: browserEvents(random, EVENTS, now - i * 1000),
    }),
  );
  const parsedBodies = bodies.map((b) => secureJson.parse(b, undefined, { protoAction: 'error', constructorAction: 'error' }));
  const validBodies = parsedBodies.map((b) => eventBatchSchema.parse(b));

  const keyDir = mkdtempSync(path.join(tmpdir(), 'sightline-micro-'));
  const tokens = createTokenIssuer({ key: await loadOrCreateSigningKey(keyDir), issuer: 'sightline' });
  // PGlite with the real schema (empty tables: a lower bound for the lookups).
  const pg = await openPostgres({ kind: 'pglite', dataDir: path.join(keyDir, 'postgres') });
  await runPostgresMigrations(pg);
  const projectId = randomUUID();
  const token = await tokens.issue({ userId: randomUUID(), projectId, branchId: 'main', refreshTokenId: randomUUID(), isAnonymous: false });
  const key = `pck_${randomUUID()}`;
  const keyHashes = [hashSecret(key)];

  // As routes.ts does: storableJson returns the data itself when nothing needs repair, and the
  // client's time is added in place (each body is parsed afresh per request on the server).
  const buildRows = (i: number, body = eventBatchSchema.parse(secureJson.parse(bodies[i % bodies.length]!))): EventRow[] => {
    const receivedAt = Date.now();
    return body.events.map((event) => {
      const eventAt = correctEventTime(event.event_at_ms, body.sent_at_ms, receivedAt);
      const clean = storableJson(event.data);
      if (eventAt !== event.event_at_ms) clean.$client_event_at_ms = event.event_at_ms;
      return {
        event_type: event.event_type,
        event_at: eventAt,
        data: clean,
        project_id: projectId,
        branch_id: 'main',
        user_id: projectId,
        team_id: null,
        refresh_token_id: projectId,
        session_replay_id: null,
        session_replay_segment_id: body.session_replay_segment_id.toLowerCase(),
      };
    });
  };
  const rowSets = Array.from({ length: 64 }, (_, i) => buildRows(i));
  const serialise = (rows: EventRow[], batchId: string) => Buffer.from(eventLines(rows, batchId));
  const lines = rowSets.map((rows) => serialise(rows, randomUUID()));
  // One group-commit insert of ~5 000 rows (100 requests), as the writer and chDB's connection handle it.
  const insertBody = Buffer.concat(Array.from({ length: 100 }, (_, i) => lines[i % lines.length]!));

  const steps: Step[] = [
    { name: 'JSON body parse (secure-json-parse)', run: (i) => secureJson.parse(bodies[i % bodies.length]!, undefined, { protoAction: 'error', constructorAction: 'error' }) },
    { name: 'schema validation (eventBatchSchema, zod)', run: (i) => eventBatchSchema.parse(parsedBodies[i % parsedBodies.length]) },
    { name: 'access token verify (ES256, jose)', run: () => tokens.verify(token, projectId) },
    { name: 'project key check (sha256 + compare)', run: () => matchesAnyHash(key, keyHashes) },
    { name: 'rows: clock + storableJson (check, copy only to repair)', run: (i) => buildRows(i, validBodies[i % validBodies.length]) },
    { name: 'NDJSON: eventLines (shared columns once per request) + Buffer', run: (i) => serialise(rowSets[i % rowSets.length]!, 'x') },
    { name: '  (before: stringify({...row, batch_id}) per row + Buffer)', run: (i) => Buffer.from(rowSets[i % rowSets.length]!.map((row) => `${JSON.stringify({ ...row, batch_id: 'x' })}\n`).join('')) },
    {
      // Session.insert hands the concatenated bytes to the engine as they are.
      name: 'insert: concat of ~100 requests (per 50 rows)',
      run: () => Buffer.concat([insertBody]).length,
    },
    { name: 'PGlite: open replay of the refresh token (1 s cache)', run: () => findOpenReplay(pg, { projectId, branchId: 'main' }, randomUUID(), Date.now()) },
    { name: 'PGlite: session still active (5 s cache)', run: () => isSessionActive(pg, { projectId, branchId: 'main' }, randomUUID()) },
  ];

  console.log(`ingest path, main-thread CPU per 50-event request (${ITERATIONS} iterations each; body ${bodies[0]!.length} B, NDJSON ${lines[0]!.length} B)`);
  let total = 0;
  for (const step of steps) {
    const iterations = step.name.startsWith('insert:') ? Math.max(20, Math.floor(ITERATIONS / 100)) : ITERATIONS;
    const { cpuUs, wallUs } = await measure(step, iterations);
    // The insert step handles 100 requests' rows at once.
    const perRequest = step.name.startsWith('insert:') ? cpuUs / 100 : cpuUs;
    if (!step.name.startsWith('  (before')) total += perRequest;
    console.log(`  ${perRequest.toFixed(1).padStart(8)} µs  (wall ${(step.name.startsWith('insert:') ? wallUs / 100 : wallUs).toFixed(1).padStart(7)} µs)  ${step.name}`);
  }
  await pg.close();
  rmSync(keyDir, { recursive: true, force: true });
  console.log(`  ${total.toFixed(1).padStart(8)} µs  total (lookups counted once each, as on a cache miss) = ${((total / EVENTS) * 1000).toFixed(0)} ns/event -> one JS thread tops out near ${Math.round((1e6 / total) * EVENTS).toLocaleString('en-US')} events/s on these steps alone`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
