import { runReplaySuite } from './replay.suite.ts';

runReplaySuite('pglite');
