import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { HEADERS } from '@sightline/protocol';
import { freePort, REPO_ROOT, startServerProcess, type ServerProcess } from './support/server-process.ts';

/**
 * DESIGN §10 and §14 "Crash" for the users sync: create thousands of users
 * through the API, `kill -9` the real server while the background sync is
 * mirroring them, restart on the same data directory, wait for the backlog to
 * drain, then `sightline verify` (against the running server) must find no
 * difference and the `users` view no duplicate.
 */

const USERS = 3000;
const CLIENTS = 24;
const TEST_TIMEOUT_MS = 88_000;
const ADMIN_SECRET = `sync-crash-operator-${randomUUID()}`;
const CLI = path.join(REPO_ROOT, 'apps', 'server', 'src', 'cli.ts');

const dataDir = mkdtempSync(path.join(tmpdir(), 'sightline-sync-crash-'));
const children: ServerProcess[] = [];
const helpers = new Set<ReturnType<typeof spawn>>();

after(async () => {
  for (const child of helpers) if (child.exitCode === null) child.kill('SIGKILL');
  for (const child of children) if (!child.exited) await child.kill('SIGKILL', 5_000).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? null : JSON.stringify(init.body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as any };
}

type Status = { source_max_sequence_id: number; last_synced_sequence_id: number; backlog: number; last_error: string | null };

/** `sightline <args>` as a child process; resolves with its exit code and output. */
function cli(args: string[], timeoutMs = 45_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, SIGHTLINE_ADMIN_SECRET: ADMIN_SECRET, SIGHTLINE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    helpers.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sightline ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      helpers.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

test('kill -9 while the users sync is mid-way: after a restart the mirror converges, verify finds no difference', { timeout: TEST_TIMEOUT_MS }, async () => {
  const started = Date.now();
  const port = await freePort();
  const first = await startServerProcess({ dataDir, port, adminSecret: ADMIN_SECRET });
  children.push(first);
  const created = await call(`${first.url}/api/v1/internal/projects`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_SECRET}` },
    body: { display_name: 'sync crash', analytics: { enabled: true } },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const projectId = created.body.project_id as string;
  const headers = (access: 'server' | 'admin') => ({
    [HEADERS.projectId]: projectId,
    [HEADERS.accessType]: access,
    ...(access === 'server'
      ? { [HEADERS.secretServerKey]: created.body.secret_server_key as string }
      : { [HEADERS.superSecretAdminKey]: created.body.super_secret_admin_key as string }),
  });
  const status = async (url: string): Promise<Status> => {
    const res = await call(`${url}/api/v1/internal/sync/status`, { headers: headers('admin') });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.mappings[0] as Status;
  };

  // The burst: users through the API, CLIENTS at a time, some updated right away. The server is
  // killed in the middle of it, as soon as the background sync is seen part-way through.
  let acknowledged = 0;
  let killedAt: number | undefined;
  const burst = async (url: string, count: number, offset = 0) => {
    let next = offset;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < offset + count && killedAt === undefined) {
          const i = next++;
          try {
            const res = await call(`${url}/api/v1/users`, {
              method: 'POST',
              headers: headers('server'),
              body: { display_name: `user ${i}`, primary_email: `u${i}@example.test`, client_metadata: { i }, is_anonymous: i % 7 === 0 },
            });
            assert.equal(res.status, 201, JSON.stringify(res.body));
            acknowledged++;
            if (i % 10 === 0) {
              const patched = await call(`${url}/api/v1/users/${res.body.id}`, {
                method: 'PATCH',
                headers: headers('server'),
                body: { display_name: `user ${i} (updated)`, server_metadata: { updated: true } },
              });
              assert.equal(patched.status, 200, JSON.stringify(patched.body));
            }
          } catch (error) {
            if (killedAt !== undefined) return; // the server was killed under this request
            throw error;
          }
        }
      }),
    );
  };
  let midway: Status | undefined;
  let burstDone = false;
  const monitor = (async () => {
    while (!burstDone) {
      await sleep(20);
      if (acknowledged < USERS * 0.4) continue;
      const s = await status(first.url);
      const inTheAct = s.last_synced_sequence_id > 0 && s.last_synced_sequence_id < s.source_max_sequence_id;
      if (inTheAct || acknowledged >= USERS * 0.8) {
        midway = s;
        killedAt = Date.now();
        const killed = await first.kill('SIGKILL');
        assert.equal(killed.signal, 'SIGKILL');
        return;
      }
    }
  })();
  await burst(first.url, USERS).finally(() => (burstDone = true));
  await monitor;
  assert.ok(killedAt, 'the server was not killed during the burst');
  console.log(`# killed after ${killedAt - started} ms, ${acknowledged} users acknowledged; status just before: ${JSON.stringify(midway)}`);

  // Restart on the same data directory; the background sync resumes from the watermark.
  const second = await startServerProcess({ dataDir, port: await freePort(), adminSecret: ADMIN_SECRET });
  children.push(second);
  // The rest of the users, on the restarted server.
  const before = acknowledged;
  killedAt = undefined;
  await burst(second.url, USERS - before, USERS);
  assert.equal(acknowledged, USERS);
  const deadline = Date.now() + 40_000;
  let caughtUp: Status;
  for (;;) {
    caughtUp = await status(second.url);
    if (caughtUp.backlog === 0) break;
    assert.ok(Date.now() < deadline, `backlog did not drain after the restart: ${JSON.stringify(caughtUp)}\n${second.output()}`);
    await sleep(100);
  }
  assert.equal(caughtUp.last_synced_sequence_id, caughtUp.source_max_sequence_id);
  assert.ok(caughtUp.source_max_sequence_id >= USERS);

  // `sightline verify` talks to the running server (operator routes) and exits 0 on no difference.
  const verified = await cli(['verify', '--project', projectId, '--data-dir', dataDir]);
  assert.equal(verified.code, 0, `verify exited ${verified.code}\n${verified.stdout}\n${verified.stderr}`);
  assert.match(verified.stdout, /no differences/);

  // No duplicates: the view's rows, distinct ids and Postgres's count agree.
  const counted = await call(`${second.url}/api/v1/internal/analytics/query`, {
    method: 'POST',
    headers: headers('admin'),
    body: {
      query: "SELECT count() AS n, uniqExact(id) AS ids, countIf(display_name LIKE '% (updated)') AS updated FROM users",
    },
  });
  assert.equal(counted.status, 200, JSON.stringify(counted.body));
  const page = await call(`${second.url}/api/v1/internal/operator/projects/${projectId}/sync/verify?limit=1`, {
    headers: { authorization: `Bearer ${ADMIN_SECRET}` },
  });
  assert.equal(page.status, 200, JSON.stringify(page.body));
  // Requests cut by the kill may have committed without an answer: Postgres can hold a few more.
  const total = page.body.total as number;
  assert.ok(total >= USERS && total <= USERS + CLIENTS, `Postgres holds ${total} users`);
  const [row] = counted.body.result as { n: number; ids: number; updated: number }[];
  assert.equal(row?.n, total);
  assert.equal(row?.ids, total);
  assert.ok((row?.updated ?? 0) >= USERS / 10 - CLIENTS);

  // `sightline sync run` against the running server has nothing left to do.
  const run = await cli(['sync', 'run', '--data-dir', dataDir]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}').rows, 0);
  await second.kill('SIGTERM');
  console.log(`# total ${Date.now() - started} ms`);
});
