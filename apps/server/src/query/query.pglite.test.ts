import { runQuerySuite } from './query.suite.ts';

runQuerySuite('pglite');
