import { runSyncSuite } from './sync.suite.ts';

runSyncSuite('pglite');
