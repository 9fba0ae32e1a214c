/**
 * Diagnostic entry (BENCH_DIAG_NO_SYNC=1): the server exactly as
 * `sightline serve --data-dir <dir> --port <port>` starts it, except that the
 * background users sync is off (`StartOptions.backgroundSync: false`, the
 * option tests use). The benchmark times the same queries on it to show what
 * the sync loop costs the query API.
 *
 *   node --import tsx bench/query/serve-without-sync.ts <data-dir> <port>
 */
import { loadConfig } from '../../apps/server/src/config.ts';
import { createLogger } from '../../apps/server/src/logger.ts';
import { installShutdown, startServer } from '../../apps/server/src/main.ts';

const [dataDir, port] = process.argv.slice(2);
if (!dataDir || !port) {
  console.error('usage: serve-without-sync.ts <data-dir> <port>');
  process.exit(2);
}
const config = loadConfig({ SIGHTLINE_DATA_DIR: dataDir, PORT: port });
const log = createLogger({ level: config.logLevel });
const server = await startServer(config, log, { backgroundSync: false });
installShutdown(server, log);
