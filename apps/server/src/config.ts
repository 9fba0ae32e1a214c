import path from 'node:path';
import { z } from 'zod';

/**
 * The service's settings. This module is the only reader of `process.env`:
 * everything else receives a frozen {@link Config}.
 */
export type Config = Readonly<{
  port: number;
  host: string;
  dataDir: string;
  adminSecret: string | undefined;
  clickhouse: Readonly<{
    url: string | undefined;
    user: string;
    password: string;
    limitedPassword: string | undefined;
    cluster: string | undefined;
  }>;
  databaseUrl: string | undefined;
  trustProxy: boolean;
  geoipDb: string | undefined;
  logLevel: string;
  nodeEnv: 'development' | 'production' | 'test';
  ingest: Readonly<{
    /** Group commit: flush at this many rows… */
    flushRows: number;
    /** …or after this many milliseconds. */
    flushMs: number;
    /** Rows waiting beyond which ingestion answers 503. */
    maxQueuedRows: number;
    /** Requests per second per project on the ingestion endpoints (0 = unlimited). */
    rateLimit: number;
    /** ClickHouse connections the writer may insert on; a second is used only while an insert stalls. */
    connections: number;
  }>;
  sync: Readonly<{
    /** Background users-sync runs start at least this far apart under a stream of changes. */
    minIntervalMs: number;
    /** Periodic sweep for a missed notification. */
    sweepMs: number;
  }>;
  /** Replay chunks older than this many days are removed with their metadata. */
  replayRetentionDays: number;
  query: Readonly<{
    /** Tenant queries in flight per project… */
    perProjectConcurrency: number;
    /** …and in the whole server, so one tenant cannot starve ingestion. */
    serverConcurrency: number;
  }>;
}>;

const booleanFlag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().min(1).default('127.0.0.1'),
  SIGHTLINE_DATA_DIR: z.string().min(1).default('./.sightline'),
  SIGHTLINE_ADMIN_SECRET: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  CLICKHOUSE_URL: optionalString.pipe(z.url().optional()),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_LIMITED_PASSWORD: optionalString,
  CLICKHOUSE_CLUSTER: optionalString.pipe(
    z.string().regex(/^[A-Za-z0-9_]+$/, 'must be a plain cluster name').optional(),
  ),
  DATABASE_URL: optionalString.pipe(
    z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL').optional(),
  ),
  SIGHTLINE_TRUST_PROXY: booleanFlag.default(false),
  SIGHTLINE_GEOIP_DB: optionalString,
  SIGHTLINE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  SIGHTLINE_INGEST_FLUSH_ROWS: z.coerce.number().int().min(1).max(100_000).default(5000),
  SIGHTLINE_INGEST_FLUSH_MS: z.coerce.number().int().min(0).max(10_000).default(5),
  SIGHTLINE_INGEST_MAX_QUEUED_ROWS: z.coerce.number().int().min(1).default(200_000),
  SIGHTLINE_INGEST_RATE_LIMIT: z.coerce.number().min(0).default(1000),
  SIGHTLINE_INGEST_CONNECTIONS: z.coerce.number().int().min(1).max(8).default(2),
  SIGHTLINE_SYNC_MIN_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(500),
  SIGHTLINE_SYNC_SWEEP_MS: z.coerce.number().int().min(100).max(3_600_000).default(5000),
  SIGHTLINE_QUERY_CONCURRENCY_PER_PROJECT: z.coerce.number().int().min(1).default(4),
  SIGHTLINE_QUERY_CONCURRENCY: z.coerce.number().int().min(1).default(8),
  SIGHTLINE_REPLAY_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
});

/** Raised when an environment variable or flag holds a value the service cannot use. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Settings given as CLI flags; they win over the environment. */
export type ConfigOverrides = Partial<Record<keyof z.input<typeof envSchema>, string | undefined>>;

/**
 * Reads and validates the configuration once.
 *
 * @example
 * const config = loadConfig({ PORT: '9000' });
 * config.port; // 9000
 */
export function loadConfig(
  overrides: ConfigOverrides = {},
  env: Record<string, string | undefined> = process.env,
): Config {
  const merged: Record<string, string | undefined> = { ...env };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) merged[key] = value;
  }
  const parsed = envSchema.safeParse(pick(merged, Object.keys(envSchema.shape)));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(environment)');
      return `${variable}: ${issue.message} (got ${JSON.stringify(merged[variable])})`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  if (e.CLICKHOUSE_URL && !e.CLICKHOUSE_LIMITED_PASSWORD) {
    throw new ConfigError(
      'Invalid configuration:\n  CLICKHOUSE_LIMITED_PASSWORD: required when CLICKHOUSE_URL is set (the password of limited_user, which runs tenant queries)',
    );
  }
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.SIGHTLINE_DATA_DIR),
    adminSecret: e.SIGHTLINE_ADMIN_SECRET,
    clickhouse: Object.freeze({
      url: e.CLICKHOUSE_URL,
      user: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      limitedPassword: e.CLICKHOUSE_LIMITED_PASSWORD,
      cluster: e.CLICKHOUSE_CLUSTER,
    }),
    databaseUrl: e.DATABASE_URL,
    trustProxy: e.SIGHTLINE_TRUST_PROXY,
    geoipDb: e.SIGHTLINE_GEOIP_DB,
    logLevel: e.SIGHTLINE_LOG_LEVEL,
    nodeEnv: e.NODE_ENV,
    ingest: Object.freeze({
      flushRows: e.SIGHTLINE_INGEST_FLUSH_ROWS,
      flushMs: e.SIGHTLINE_INGEST_FLUSH_MS,
      maxQueuedRows: e.SIGHTLINE_INGEST_MAX_QUEUED_ROWS,
      rateLimit: e.SIGHTLINE_INGEST_RATE_LIMIT,
      connections: e.SIGHTLINE_INGEST_CONNECTIONS,
    }),
    sync: Object.freeze({
      minIntervalMs: e.SIGHTLINE_SYNC_MIN_INTERVAL_MS,
      sweepMs: e.SIGHTLINE_SYNC_SWEEP_MS,
    }),
    replayRetentionDays: e.SIGHTLINE_REPLAY_RETENTION_DAYS,
    query: Object.freeze({
      perProjectConcurrency: e.SIGHTLINE_QUERY_CONCURRENCY_PER_PROJECT,
      serverConcurrency: e.SIGHTLINE_QUERY_CONCURRENCY,
    }),
  });
}

function pick(source: Record<string, string | undefined>, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) {
    const value = source[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}
