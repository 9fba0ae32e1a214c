import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (commands run from here so `tsx` and the workspaces resolve). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(REPO_ROOT, 'apps', 'server', 'src', 'cli.ts');

export type ServerProcessOptions = {
  dataDir: string;
  port: number;
  adminSecret: string;
  /** Extra environment for the child (merged over the test's own). */
  env?: Record<string, string>;
  /** Extra `serve` arguments, e.g. `['--demo']`. */
  args?: string[];
  /** Node flags before the script, e.g. `['--cpu-prof']` (`--import tsx` is always there). */
  nodeArgs?: string[];
  /** How much of the child's output `output()` keeps (default 8 000 characters). */
  keepOutputChars?: number;
  /** How long to wait for `GET /ready` to answer 200 (default 45 s). */
  readyTimeoutMs?: number;
};

export type ServerProcess = {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** The last few kilobytes of the child's stdout and stderr, for failure messages. */
  output(): string;
  /** Sends a signal and resolves with the exit code/signal once the process is gone. */
  kill(signal: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/**
 * A port that was free a moment ago (the kernel picks it; another process could
 * still take it before the server binds, which is rare enough for a test).
 *
 * @example
 * const port = await freePort();
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts `sightline serve` as a child process and waits until `/ready` answers 200.
 * The child is node itself (no shell, no npx), so `kill -9` hits the server.
 *
 * @example
 * const server = await startServerProcess({ dataDir, port: await freePort(), adminSecret: 'x'.repeat(24) });
 * await server.kill('SIGTERM');
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const url = `http://127.0.0.1:${options.port}`;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', ...(options.nodeArgs ?? []), CLI, 'serve', '--data-dir', options.dataDir, '--port', String(options.port), '--host', '127.0.0.1', ...(options.args ?? [])],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        SIGHTLINE_ADMIN_SECRET: options.adminSecret,
        SIGHTLINE_LOG_LEVEL: 'warn',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-(options.keepOutputChars ?? 8000));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const server: ServerProcess = {
    url,
    pid: child.pid ?? -1,
    child,
    get exited() {
      return exitInfo !== undefined;
    },
    output: () => tail,
    async kill(signal, timeoutMs = 30_000) {
      if (exitInfo) return exitInfo;
      child.kill(signal);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      });
      const result = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (result) return result;
      child.kill('SIGKILL');
      await exited;
      throw new Error(`server ${child.pid} did not exit within ${timeoutMs} ms of ${signal}; killed it.\n${tail}`);
    },
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 45_000);
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const failed = await Promise.race([
      exited.then((info) => `exited (code ${info.code}, signal ${info.signal})`),
      spawnError.then((error) => `could not start: ${error.message}`),
      sleep(250).then(() => undefined),
    ]);
    if (failed) throw new Error(`server ${failed} before it was ready.\n${tail}`);
    try {
      const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5_000) });
      if (response.status === 200) return server;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
  }
  await server.kill('SIGKILL').catch(() => undefined);
  throw new Error(`server was not ready within ${options.readyTimeoutMs ?? 45_000} ms (last: ${last}).\n${tail}`);
}
