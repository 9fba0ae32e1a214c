import pino from 'pino';
import type { Config } from './config.ts';
import { readLockHolder } from './data-dir-lock.ts';
import { loadOrCreateAdminSecret } from './instance-secret.ts';
import { startServer } from './main.ts';

export type OperatorResponse = { status: number; body: unknown };

export type OperatorClient = {
  /** Where requests go: a running server's URL, or "in-process". */
  target: string;
  request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<OperatorResponse>;
  close(): Promise<void>;
};

/**
 * Talks to Sightline as the instance operator, through the same HTTP API in
 * both cases: over the network to the server that holds the embedded data
 * directory, or, when none runs, to a server started in this process
 * without a socket. CLI commands therefore never touch a directory a server
 * owns (two PGlite processes on one directory corrupt it).
 *
 * @example
 * const client = await openOperatorClient(config);
 * const res = await client.request('POST', '/api/v1/internal/projects', { display_name: 'Shop' });
 */
export async function openOperatorClient(config: Config): Promise<OperatorClient> {
  const holder = readLockHolder(config.dataDir);
  if (holder?.url) {
    const base = holder.url;
    // The running server generated it on its first start, if it was not configured.
    const secret = loadOrCreateAdminSecret(config.dataDir, config.adminSecret).secret;
    return {
      target: base,
      async request(method, path, body) {
        const response = await fetch(new URL(path, base), {
          method,
          headers: {
            authorization: `Bearer ${secret}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? null : JSON.stringify(body),
        });
        const text = await response.text();
        return { status: response.status, body: text ? JSON.parse(text) : undefined };
      },
      close: async () => undefined,
    };
  }
  if (holder) {
    throw new Error(`the data directory ${config.dataDir} is in use by process ${holder.pid}, which serves no HTTP yet`);
  }
  const server = await startServer(config, pino({ level: 'warn' }), { listen: false, backgroundSync: false });
  return {
    target: 'in-process',
    async request(method, path, body) {
      const response = await server.app.inject({
        method,
        url: path,
        headers: { authorization: `Bearer ${server.adminSecret}` },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : undefined };
    },
    close: () => server.close(),
  };
}
