import { runSavedQueriesSuite } from './saved-queries.suite.ts';

runSavedQueriesSuite('pglite');
