import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import { freePort, REPO_ROOT } from '../../e2e/support/server-process.ts';

/** A Sightline server started as a child process on a data directory of its own. */
export type RunningServer = {
  url: string;
  port: number;
  pid: number;
  /** SIGTERM, then wait for a clean exit (the data directory is free afterwards). */
  stop(): Promise<void>;
};

export type Project = { projectId: string; adminKey: string };

/**
 * Starts `sightline serve` the way an operator does (production mode, warn
 * logs, a larger libuv pool) and waits until `GET /ready` answers 200.
 * The child's output goes to `logFile`.
 */
export async function startServer(options: {
  dataDir: string;
  adminSecret: string;
  logFile: string;
  timeoutMs?: number;
  /** `cli` (default): `sightline serve`; `without-sync`: the same with the background users sync off (diagnostic). */
  variant?: 'cli' | 'without-sync';
}): Promise<RunningServer> {
  const port = await freePort();
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const args =
    options.variant === 'without-sync'
      ? ['--import', 'tsx', 'bench/query/serve-without-sync.ts', options.dataDir, String(port)]
      : ['--import', 'tsx', 'apps/server/src/cli.ts', 'serve', '--data-dir', options.dataDir, '--port', String(port)];
  const child: ChildProcess = spawn(
    process.execPath,
    args,
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        SIGHTLINE_ADMIN_SECRET: options.adminSecret,
        SIGHTLINE_LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
        UV_THREADPOOL_SIZE: '16',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    if (exited) throw new Error(`the server exited during start-up (${JSON.stringify(exited)}); see ${options.logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`the server was not ready in time; see ${options.logFile}`);
    }
    const status = await httpStatus(`${url}/ready`).catch(() => 0);
    if (status === 200) break;
    await sleep(200);
  }
  return {
    url,
    port,
    pid: child.pid ?? -1,
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 60_000);
      await exit;
      clearTimeout(timer);
      log.end();
      if (exited?.code !== 0) throw new Error(`the server stopped with ${JSON.stringify(exited)}; see ${options.logFile}`);
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
    });
    request.once('error', reject);
    request.setTimeout(2000, () => request.destroy(new Error('timeout')));
  });
}

/** One keep-alive HTTP client for the whole benchmark (no per-request connection set-up). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

export type JsonResponse = { status: number; text: string };

/** POSTs JSON and resolves with the full response body as text. */
export function postJson(url: string, headers: Record<string, string>, body: unknown): Promise<JsonResponse> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.once('error', reject);
      },
    );
    request.once('error', reject);
    request.end(payload);
  });
}

/** Creates `count` projects with analytics on, through the operator API. */
export async function createProjects(server: RunningServer, adminSecret: string, count: number): Promise<Project[]> {
  const projects: Project[] = [];
  for (let i = 0; i < count; i++) {
    const response = await postJson(
      `${server.url}/api/v1/internal/projects`,
      { authorization: `Bearer ${adminSecret}` },
      { display_name: `bench-${i}`, analytics: { enabled: true } },
    );
    if (response.status !== 200 && response.status !== 201) {
      throw new Error(`creating a project answered ${response.status}: ${response.text}`);
    }
    const body = JSON.parse(response.text) as { project_id: string; super_secret_admin_key: string };
    projects.push({ projectId: body.project_id, adminKey: body.super_secret_admin_key });
  }
  return projects;
}

export type ApiQueryResult = {
  rows: Record<string, unknown>[];
  /** The engine's elapsed time for the main query, as the API reports it. */
  engineMs: number;
  readRows: number;
};

/** Runs tenant SQL through `POST /api/v1/internal/analytics/query` as the project's admin. */
export async function apiQuery(
  server: RunningServer,
  project: Project,
  query: string,
  params: Record<string, unknown>,
): Promise<{ response: JsonResponse; parse(): ApiQueryResult }> {
  const response = await postJson(
    `${server.url}/api/v1/internal/analytics/query`,
    {
      'x-stack-project-id': project.projectId,
      'x-stack-access-type': 'admin',
      'x-stack-super-secret-admin-key': project.adminKey,
    },
    { query, params, timeout_ms: 60_000 },
  );
  return {
    response,
    parse() {
      if (response.status !== 200) throw new Error(`query answered ${response.status}: ${response.text.slice(0, 500)}`);
      const body = JSON.parse(response.text) as {
        result: Record<string, unknown>[];
        stats: { elapsed_ms: number; read_rows: number };
      };
      return { rows: body.result, engineMs: body.stats.elapsed_ms, readRows: body.stats.read_rows };
    },
  };
}

/** Closes the keep-alive sockets so the process can exit. */
export function closeHttp(): void {
  agent.destroy();
}
