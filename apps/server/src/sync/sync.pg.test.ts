import { runSyncSuite } from './sync.suite.ts';

runSyncSuite('pg');
