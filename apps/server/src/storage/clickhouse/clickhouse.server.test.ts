import { openClickHouse } from './client.ts';
import { runClickHouseContract } from './clickhouse.contract.ts';

const url = process.env.CLICKHOUSE_URL;
const skip = url ? undefined : 'CLICKHOUSE_URL is not set: no ClickHouse server to run the contract against';
if (skip) console.log(`# skipped: ClickHouse server contract — ${skip}`);

runClickHouseContract({
  name: `ClickHouse server ${url ?? ''}`.trim(),
  skip,
  open: () =>
    openClickHouse({
      kind: 'server',
      url: url ?? '',
      user: process.env.CLICKHOUSE_USER ?? 'default',
      password: process.env.CLICKHOUSE_PASSWORD ?? '',
    }),
});
