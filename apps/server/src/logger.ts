import pino, { type Logger } from 'pino';

/** Header and body fields that must never reach a log line. */
const REDACTED = [
  'req.headers.authorization',
  'req.headers["x-stack-publishable-client-key"]',
  'req.headers["x-stack-secret-server-key"]',
  'req.headers["x-stack-super-secret-admin-key"]',
  'req.headers["x-stack-access-token"]',
  'req.headers["x-stack-refresh-token"]',
  'req.headers.cookie',
];

export type LoggerOptions = { level: string; pretty?: boolean };

/**
 * The service logger: JSON lines, or pino-pretty on a terminal.
 *
 * @example
 * const log = createLogger({ level: 'info', pretty: process.stdout.isTTY });
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino({
    level: options.level,
    redact: { paths: REDACTED, censor: '[redacted]' },
    ...(options.pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  });
}
