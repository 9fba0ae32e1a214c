import { runQuerySuite } from './query.suite.ts';

runQuerySuite('pg');
