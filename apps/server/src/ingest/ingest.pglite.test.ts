import { runIngestSuite } from './ingest.suite.ts';

runIngestSuite('pglite');
