import { runIngestSuite } from './ingest.suite.ts';

runIngestSuite('pg');
