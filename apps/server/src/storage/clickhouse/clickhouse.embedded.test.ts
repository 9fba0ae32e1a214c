import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { openClickHouse } from './client.ts';
import { runClickHouseContract } from './clickhouse.contract.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'sightline-ch-contract-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

runClickHouseContract({ name: 'embedded chDB', open: () => openClickHouse({ kind: 'embedded', dataDir }) });
