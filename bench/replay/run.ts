/**
 * Session replay benchmark, one run:
 *
 *  1. starts `sightline serve` on the embedded engines (chDB + PGlite) in a
 *     temporary data directory; creates projects, users and sessions;
 *  2. upload load: many browser tabs (two per session, as two tabs of one
 *     browser) each upload 5-second rrweb chunks closed-loop for BENCH_SECONDS.
 *     The chunks are the real recording of `apps/server/src/replay/fixtures/`
 *     re-timed and cycled, with a full snapshot every minute of tab time
 *     -> MB/s of rrweb JSON, chunks/s, p50/p99 latency, replays per session;
 *  3. one 30-minute replay (360 chunks at 5-second intervals, uploaded in order
 *     by one tab), then every event of it fetched through
 *     `GET /internal/session-replays/:id/events` in offset/limit pages (checked
 *     event for event against what was uploaded) -> time per full fetch;
 *  4. stops the server and reads the payload column's compression from chDB's
 *     `system.columns` (data_uncompressed_bytes / data_compressed_bytes).
 *
 * Usage: npm run bench:replay
 * Env: BENCH_SECONDS (20), BENCH_WARMUP_SECONDS (2), BENCH_TABS (48),
 *      BENCH_PROJECTS (4), BENCH_REPLAY_MINUTES (30), BENCH_FETCH_REPEATS (3),
 *      BENCH_KEEP=1 (keep the data directory).
 *
 * The server, this load generator and chDB share the machine's cores: the
 * figures are for that setting, and the summary prints the load average.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { freePort, startServerProcess, type ServerProcess } from '../../e2e/support/server-process.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HEADERS } from '@sightline/protocol';
import { openClickHouse } from '../../apps/server/src/storage/clickhouse/client.ts';
import { rssMiB } from '../ingest/proc.ts';
import { positiveFromEnv as env } from '../env.ts';
import { ascending, fmt, percentile } from '../numbers.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = path.join(ROOT, 'apps/server/src/replay/fixtures/rrweb-recording.json');
const SETTINGS = {
  seconds: env('BENCH_SECONDS', 20),
  warmupSeconds: env('BENCH_WARMUP_SECONDS', 2),
  tabs: Math.round(env('BENCH_TABS', 48)),
  projects: Math.round(env('BENCH_PROJECTS', 4)),
  replayMinutes: env('BENCH_REPLAY_MINUTES', 30),
  fetchRepeats: Math.round(env('BENCH_FETCH_REPEATS', 3)),
  keep: process.env.BENCH_KEEP === '1',
};
const CHUNK_MS = 5000;
/** A tab records a new full snapshot (a navigation) once a minute. */
const SNAPSHOT_EVERY_CHUNKS = 12;
const ADMIN_SECRET = `bench-admin-${randomUUID()}`;

const log = (line = '') => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MB = 1_000_000;

// ---------------------------------------------------------------------------
// rrweb chunks from the recording

type RrwebEvent = { type: number; timestamp: number; [key: string]: unknown };

/** Splits the recording into its opening (meta, full snapshot…) and the incremental stream that follows. */
function loadRecording() {
  const events = JSON.parse(readFileSync(FIXTURE, 'utf8')) as RrwebEvent[];
  const snapshot = events.findIndex((e) => e.type === 2);
  if (snapshot < 0) throw new Error('the fixture has no full snapshot');
  const opening = events.slice(0, snapshot + 1);
  const stream = events.slice(snapshot + 1);
  const t0 = stream[0]!.timestamp;
  // The stream repeats with this period (its length plus a short pause).
  const period = stream.at(-1)!.timestamp - t0 + 250;
  return { events, opening, stream, t0, period };
}
const recording = loadRecording();

/**
 * The events of one 5-second chunk starting `virtualMs` into a tab's life,
 * stamped on the tab's clock from `tabStart`: the recording's incremental
 * events repeated, and the opening snapshot when `withSnapshot`.
 */
function chunkEvents(tabStart: number, virtualMs: number, withSnapshot: boolean): RrwebEvent[] {
  const out: RrwebEvent[] = [];
  if (withSnapshot) for (const e of recording.opening) out.push({ ...e, timestamp: tabStart + virtualMs });
  const end = virtualMs + CHUNK_MS;
  for (let k = Math.floor(virtualMs / recording.period); k * recording.period < end; k++) {
    for (const e of recording.stream) {
      const at = k * recording.period + (e.timestamp - recording.t0);
      if (at >= virtualMs && at < end) out.push({ ...e, timestamp: tabStart + at });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The server

// The e2e helper: spawns `sightline serve`, waits for /ready, stops it with a timeout.
const startServer = (dataDir: string, port: number) =>
  startServerProcess({
    dataDir,
    port,
    adminSecret: ADMIN_SECRET,
    env: { SIGHTLINE_INGEST_RATE_LIMIT: '0', UV_THREADPOOL_SIZE: '16' },
    readyTimeoutMs: 120_000,
  });
const stopServer = async (server: ServerProcess) => (await server.kill('SIGTERM', 90_000)).code;

async function api<T>(url: string, init: { method: string; headers: Record<string, string>; body?: unknown }): Promise<T> {
  const response = await fetch(url, {
    method: init.method,
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method} ${url} -> ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

type Project = { id: string; client: Record<string, string>; server: Record<string, string>; admin: Record<string, string> };
type Session = { project: Project; userId: string; client: Record<string, string>; browserSessionId: string };

async function createProject(url: string, name: string): Promise<Project> {
  const created = await api<{ project_id: string; publishable_client_key: string; secret_server_key: string; super_secret_admin_key: string }>(
    `${url}/api/v1/internal/projects`,
    { method: 'POST', headers: { authorization: `Bearer ${ADMIN_SECRET}` }, body: { display_name: name, analytics: { enabled: true } } },
  );
  const base = { [HEADERS.projectId]: created.project_id };
  return {
    id: created.project_id,
    client: { ...base, [HEADERS.accessType]: 'client', [HEADERS.publishableClientKey]: created.publishable_client_key },
    server: { ...base, [HEADERS.accessType]: 'server', [HEADERS.secretServerKey]: created.secret_server_key },
    admin: { ...base, [HEADERS.accessType]: 'admin', [HEADERS.superSecretAdminKey]: created.super_secret_admin_key },
  };
}

async function signIn(url: string, project: Project, index: number): Promise<Session> {
  const user = await api<{ id: string }>(`${url}/api/v1/users`, {
    method: 'POST',
    headers: project.server,
    body: { display_name: `Bench user ${index}`, primary_email: `user${index}@bench.example` },
  });
  const session = await api<{ access_token: string }>(`${url}/api/v1/auth/sessions`, {
    method: 'POST',
    headers: project.server,
    body: { user_id: user.id },
  });
  return { project, userId: user.id, client: { ...project.client, [HEADERS.accessToken]: session.access_token }, browserSessionId: randomUUID() };
}

type UploadResult = { session_replay_id: string; deduped: boolean };

/** Posts one chunk; returns the latency and the rrweb JSON bytes it carried. */
async function uploadChunk(url: string, session: Session, segmentId: string, events: RrwebEvent[], startedAt: number, sentAt: number) {
  const eventsJson = JSON.stringify(events);
  const body = `{"browser_session_id":"${session.browserSessionId}","session_replay_segment_id":"${segmentId}","batch_id":"${randomUUID()}","started_at_ms":${startedAt},"sent_at_ms":${sentAt},"events":${eventsJson}}`;
  const started = performance.now();
  const response = await fetch(`${url}/api/v1/session-replays/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...session.client },
    body,
  });
  const text = await response.text();
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`upload -> ${response.status}: ${text.slice(0, 300)}`);
  return { ms, bytes: Buffer.byteLength(eventsJson), bodyBytes: Buffer.byteLength(body), result: JSON.parse(text) as UploadResult };
}

// ---------------------------------------------------------------------------
// Phases

async function uploadLoad(url: string, sessions: Session[]) {
  const tabs = Array.from({ length: SETTINGS.tabs }, (_, i) => ({ session: sessions[i % sessions.length]!, segmentId: randomUUID(), start: Date.now(), chunk: 0 }));
  const started = performance.now();
  const measureFrom = started + SETTINGS.warmupSeconds * 1000;
  const measureTo = measureFrom + SETTINGS.seconds * 1000;
  const latencies: number[] = [];
  let bytes = 0;
  let bodyBytes = 0;
  let events = 0;
  let errors = 0;
  let firstError = '';
  const rss: number[] = [];
  const sampler = setInterval(() => {
    const value = rssMiB(server!.pid);
    if (value !== undefined) rss.push(value);
  }, 500);
  const replaysBySession = new Map<Session, Set<string>>();
  await Promise.all(
    tabs.map(async (tab) => {
      while (performance.now() < measureTo) {
        const virtualMs = tab.chunk * CHUNK_MS;
        const chunk = chunkEvents(tab.start, virtualMs, tab.chunk % SNAPSHOT_EVERY_CHUNKS === 0);
        tab.chunk++;
        const begin = performance.now();
        try {
          // The tab's clock runs ahead (chunks go out back to back): sent_at_ms is on that clock, and the server corrects it.
          const done = await uploadChunk(url, tab.session, tab.segmentId, chunk, tab.start, tab.start + virtualMs + CHUNK_MS);
          const set = replaysBySession.get(tab.session) ?? new Set<string>();
          set.add(done.result.session_replay_id);
          replaysBySession.set(tab.session, set);
          const end = performance.now();
          if (begin >= measureFrom && end <= measureTo) {
            latencies.push(done.ms);
            bytes += done.bytes;
            bodyBytes += done.bodyBytes;
            events += chunk.length;
          }
        } catch (error) {
          errors++;
          firstError ||= String(error);
          await sleep(100);
        }
      }
    }),
  );
  clearInterval(sampler);
  const seconds = SETTINGS.seconds;
  const replayCounts = [...replaysBySession.values()].map((s) => s.size);
  const sorted = ascending(latencies);
  return {
    chunks: latencies.length,
    chunksPerSecond: latencies.length / seconds,
    mbPerSecond: bytes / MB / seconds,
    bodyMbPerSecond: bodyBytes / MB / seconds,
    eventsPerSecond: events / seconds,
    meanChunkKb: bytes / 1000 / Math.max(1, latencies.length),
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: percentile(sorted, 1),
    errors,
    firstError,
    sessionsWithOneReplay: replayCounts.filter((n) => n === 1).length,
    sessions: replayCounts.length,
    rssMaxMiB: Math.max(0, ...rss),
  };
}

async function longReplay(url: string, session: Session) {
  const chunks = Math.round((SETTINGS.replayMinutes * 60_000) / CHUNK_MS);
  const segmentId = randomUUID();
  const start = Date.now() - SETTINGS.replayMinutes * 60_000;
  const uploaded: RrwebEvent[] = [];
  const latencies: number[] = [];
  let bytes = 0;
  let replayId = '';
  const began = performance.now();
  for (let i = 0; i < chunks; i++) {
    const events = chunkEvents(start, i * CHUNK_MS, i % SNAPSHOT_EVERY_CHUNKS === 0);
    // A correct client clock: the events keep their times, spread over the last 30 minutes.
    const done = await uploadChunk(url, session, segmentId, events, start, Date.now());
    replayId ||= done.result.session_replay_id;
    if (done.result.session_replay_id !== replayId) throw new Error(`chunk ${i} went to another replay`);
    latencies.push(done.ms);
    bytes += done.bytes;
    uploaded.push(...events);
  }
  const uploadSeconds = (performance.now() - began) / 1000;

  const replay = await api<{ items: { id: string; chunk_count: number; event_count: number; started_at_millis: number; last_event_at_millis: number }[] }>(
    `${url}/api/v1/internal/session-replays?user_ids=${session.userId}`,
    { method: 'GET', headers: session.project.admin },
  );
  const item = replay.items.find((r) => r.id === replayId);
  if (!item || item.chunk_count !== chunks || item.event_count !== uploaded.length) {
    throw new Error(`the long replay is not whole: ${JSON.stringify(item)}`);
  }

  const fetchAll = async (limit: number) => {
    const t0 = performance.now();
    const events: unknown[] = [];
    let responseBytes = 0;
    let requests = 0;
    for (let offset = 0; ; offset += limit) {
      const response = await fetch(`${url}/api/v1/internal/session-replays/${replayId}/events?offset=${offset}&limit=${limit}`, {
        headers: session.project.admin,
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`events -> ${response.status}: ${text.slice(0, 300)}`);
      requests++;
      responseBytes += Buffer.byteLength(text);
      const page = JSON.parse(text) as { chunks: unknown[]; chunk_events: { events: unknown[] }[] };
      for (const chunk of page.chunk_events) events.push(...chunk.events);
      if (offset + limit >= page.chunks.length) break;
    }
    return { ms: performance.now() - t0, events, responseBytes, requests };
  };
  const fetches: { limit: number; ms: number[]; responseBytes: number; requests: number }[] = [];
  for (const limit of [100, 20]) {
    const runs = [];
    for (let r = 0; r < SETTINGS.fetchRepeats; r++) {
      const result = await fetchAll(limit);
      if (r === 0) assert.deepEqual(result.events, uploaded, 'fetched events differ from the uploaded ones');
      runs.push(result);
    }
    fetches.push({ limit, ms: runs.map((r) => r.ms), responseBytes: runs[0]!.responseBytes, requests: runs[0]!.requests });
  }
  latencies.sort((a, b) => a - b);
  return {
    replayId,
    chunks,
    events: uploaded.length,
    mb: bytes / MB,
    durationMinutes: (item.last_event_at_millis - item.started_at_millis) / 60_000,
    uploadSeconds,
    uploadP50: percentile(latencies, 0.5),
    uploadP99: percentile(latencies, 0.99),
    fetches,
  };
}

async function compression(dataDir: string) {
  const ch = await openClickHouse({ kind: 'embedded', dataDir: path.join(dataDir, 'clickhouse'), connections: 1 });
  try {
    const read = async () => {
      const [column] = await ch.query<{ compressed: string; uncompressed: string; codec: string }>({
        name: 'bench.replay-compression',
        sql: `SELECT data_compressed_bytes AS compressed, data_uncompressed_bytes AS uncompressed, compression_codec AS codec
              FROM system.columns WHERE database = 'analytics_internal' AND table = 'session_replay_chunks' AND name = 'payload'`,
      });
      const [parts] = await ch.query<{ parts: string; rows: string; compressed: string; uncompressed: string; types: string[] }>({
        name: 'bench.replay-parts',
        sql: `SELECT count() AS parts, sum(rows) AS rows, sum(data_compressed_bytes) AS compressed,
                     sum(data_uncompressed_bytes) AS uncompressed, groupUniqArray(part_type) AS types
              FROM system.parts WHERE database = 'analytics_internal' AND table = 'session_replay_chunks' AND active`,
      });
      return { column, parts };
    };
    let result = await read();
    let optimized = false;
    // Compact parts (small inserts not merged yet) keep no per-column sizes: merge first.
    if (!result.column || Number(result.column.compressed) === 0) {
      await ch.command({ name: 'bench.replay-optimize', sql: 'OPTIMIZE TABLE analytics_internal.session_replay_chunks FINAL' });
      result = await read();
      optimized = true;
    }
    const compressed = Number(result.column?.compressed ?? 0);
    const uncompressed = Number(result.column?.uncompressed ?? 0);
    return {
      compressed,
      uncompressed,
      ratio: uncompressed / compressed,
      codec: result.column?.codec ?? '',
      parts: Number(result.parts?.parts ?? 0),
      rows: Number(result.parts?.rows ?? 0),
      partTypes: result.parts?.types ?? [],
      tableRatio: Number(result.parts?.uncompressed ?? 0) / Number(result.parts?.compressed ?? 1),
      optimized,
    };
  } finally {
    await ch.close();
  }
}

// ---------------------------------------------------------------------------

let server: ServerProcess | undefined;

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sightline-bench-replay-'));
  const loadBefore = loadavg()[0]!;
  log(`replay bench: ${SETTINGS.tabs} tabs, ${SETTINGS.seconds} s (+${SETTINGS.warmupSeconds} s warm-up), ${availableParallelism()} cores, load ${fmt(loadBefore, 1)}`);
  log(`fixture: ${recording.events.length} rrweb events, opening ${fmt(Buffer.byteLength(JSON.stringify(recording.opening)))} B, stream ${fmt(Buffer.byteLength(JSON.stringify(recording.stream)))} B over ${fmt(recording.period / 1000, 1)} s`);
  try {
    server = await startServer(dataDir, await freePort());
    const url = server.url;
    const projects = await Promise.all(Array.from({ length: SETTINGS.projects }, (_, i) => createProject(url, `replay bench ${i + 1}`)));
    const sessionCount = Math.max(1, Math.ceil(SETTINGS.tabs / 2));
    const sessions: Session[] = [];
    for (let i = 0; i < sessionCount; i++) sessions.push(await signIn(url, projects[i % projects.length]!, i));
    const rssIdle = rssMiB(server.pid) ?? Number.NaN;

    log('phase 1: upload load…');
    const load = await uploadLoad(url, sessions);
    log(
      `  ${fmt(load.chunksPerSecond, 1)} chunks/s, ${fmt(load.mbPerSecond, 2)} MB/s rrweb JSON, p50 ${fmt(load.p50, 1)} ms, p99 ${fmt(load.p99, 1)} ms, errors ${load.errors}`,
    );
    if (load.firstError) log(`  first error: ${load.firstError}`);

    log(`phase 2: one ${SETTINGS.replayMinutes}-minute replay…`);
    const long = await longReplay(url, await signIn(url, projects[0]!, 10_000));
    for (const f of long.fetches) {
      log(`  fetch all events, pages of ${f.limit} chunks (${f.requests} requests): ${f.ms.map((ms) => `${fmt(ms)} ms`).join(', ')}`);
    }

    log('phase 3: stopping the server, reading compression…');
    const code = await stopServer(server);
    server = undefined;
    const comp = await compression(dataDir);

    const best = (ms: number[]) => Math.min(...ms);
    const median = (ms: number[]) => percentile(ascending(ms), 0.5);
    log('');
    log('==================== replay bench summary ====================');
    log(`machine            ${availableParallelism()} cores, load average ${fmt(loadBefore, 1)} before, ${fmt(loadavg()[0]!, 1)} after (shared)`);
    log(`upload load        ${SETTINGS.tabs} tabs over ${load.sessions} sessions in ${SETTINGS.projects} projects, ${SETTINGS.seconds} s measured`);
    log(`  throughput       ${fmt(load.mbPerSecond, 2)} MB/s of rrweb JSON (${fmt(load.bodyMbPerSecond, 2)} MB/s request bodies), ${fmt(load.chunksPerSecond, 1)} chunks/s, ${fmt(load.eventsPerSecond)} events/s`);
    log(`  chunk size       ${fmt(load.meanChunkKb, 1)} kB mean (5 s of activity, a full snapshot every ${SNAPSHOT_EVERY_CHUNKS} chunks)`);
    log(`  latency          p50 ${fmt(load.p50, 1)} ms, p90 ${fmt(load.p90, 1)} ms, p99 ${fmt(load.p99, 1)} ms, max ${fmt(load.max, 1)} ms`);
    log(`  errors           ${load.errors}`);
    log(`  grouping         ${load.sessionsWithOneReplay}/${load.sessions} sessions (2 tabs each) have exactly one replay`);
    log(`  server RSS       ${fmt(rssIdle)} MiB idle, ${fmt(load.rssMaxMiB)} MiB max under load`);
    log(`long replay        ${long.chunks} chunks, ${fmt(long.events)} events, ${fmt(long.mb, 2)} MB rrweb JSON, ${fmt(long.durationMinutes, 1)} min long`);
    log(`  upload           ${fmt(long.uploadSeconds, 1)} s in order by one tab (p50 ${fmt(long.uploadP50, 1)} ms, p99 ${fmt(long.uploadP99, 1)} ms)`);
    for (const f of long.fetches) {
      log(
        `  fetch, limit ${String(f.limit).padEnd(3)}  best ${fmt(best(f.ms))} ms, median ${fmt(median(f.ms))} ms for all events (${f.requests} requests, ${fmt(f.responseBytes / MB, 2)} MB of responses, ${fmt(f.responseBytes / MB / (median(f.ms) / 1000), 1)} MB/s)`,
      );
    }
    log(`compression        payload column ${fmt(comp.uncompressed / MB, 1)} MB -> ${fmt(comp.compressed / MB, 2)} MB, ratio ${fmt(comp.ratio, 1)}x (${comp.codec})`);
    log(`  table            ${comp.parts} active part(s) [${comp.partTypes.join(', ')}], ${fmt(comp.rows)} rows, whole table ratio ${fmt(comp.tableRatio, 1)}x${comp.optimized ? ' (after OPTIMIZE FINAL: compact parts carry no column sizes)' : ''}`);
    log(`server exit        ${code}`);
    log('==============================================================');
    if (load.errors > 0) process.exitCode = 1;
  } finally {
    if (server) await stopServer(server).catch(() => undefined);
    if (SETTINGS.keep) log(`data kept in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
