import { runSavedQueriesSuite } from './saved-queries.suite.ts';

runSavedQueriesSuite('pg');
