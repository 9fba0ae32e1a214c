import { AnalyticsQueryError } from '@sightline/protocol';
import { functionName, parseAst, type AstNode } from './ast-tree.ts';
import { AGGREGATE_FUNCTIONS, CASE_INSENSITIVE_FUNCTIONS, SCALAR_FUNCTIONS } from './function-allowlist.ts';

/** What the engine's own parser says about a query text, before anything runs. */
export type StatementClass = {
  statementCount: number;
  /** Every statement is a read (SELECT, SHOW, DESCRIBE, EXPLAIN). */
  readOnly: boolean;
  /** The parser understood the text (false for syntax errors). */
  parsed: boolean;
};

/** The only table functions a tenant may call. */
export const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set(['numbers']);
/** The only tables a tenant query may resolve to (`system.one` is what `SELECT 1` reads). */
export const READABLE_TABLES: ReadonlySet<string> = new Set(['default.events', 'default.users', 'system.one']);
/** How a tenant may name them in the query text. */
const READABLE_TABLE_NAMES: ReadonlySet<string> = new Set(['events', 'users', 'default.events', 'default.users']);
/**
 * Syntax nodes that run functions the tree does not show as `Function` nodes
 * (`COLUMNS(…) APPLY(file)` prints a bare transformer line).
 */
const FORBIDDEN_NODES: ReadonlyMap<string, string> = new Map([
  ['ColumnsApplyTransformer', 'APPLY transformers are not allowed.'],
]);

const AGGREGATE_COMBINATORS = [
  'OrDefault', 'OrNull', 'Distinct', 'ForEach', 'Resample', 'SimpleState', 'MergeState', 'State', 'Merge', 'ArgMin',
  'ArgMax', 'Array', 'Map', 'If',
];

const reject = (message: string) => new AnalyticsQueryError(message);

/**
 * Step 1: exactly one statement, and a read-only one (from ClickHouse's own
 * statement classifier: multi-statements, SET, USE, SYSTEM, KILL, INTO OUTFILE,
 * DDL and DML never get further).
 */
export function checkStatementClass(statement: StatementClass): void {
  if (statement.statementCount === 0) throw reject('The query could not be parsed.');
  if (statement.statementCount !== 1) throw reject('Only one statement can be run at a time.');
  if (!statement.readOnly) throw reject('Only SELECT queries are allowed.');
}

/** The root alone: a SELECT (or UNION of SELECTs) without FORMAT or INTO. Returns the parsed tree. */
export function checkSelectRoot(explainAst: string): AstNode[] {
  const nodes = parseAst(explainAst);
  const root = nodes[0];
  if (!root || root.type !== 'SelectWithUnionQuery') throw reject('Only SELECT queries are allowed.');
  if (root.children !== 1) throw reject('FORMAT and INTO clauses are not allowed: results are returned as JSON.');
  return nodes;
}

/**
 * Step 2: the syntax tree. The root is a SELECT (or UNION of SELECTs) with no
 * FORMAT clause; no SETTINGS clause at any depth; table functions and scalar
 * functions only from the allowlists.
 */
export function checkAst(explainAst: string, cteNames: ReadonlySet<string> = new Set()): void {
  const nodes = checkSelectRoot(explainAst);
  for (const node of nodes) {
    if (node.type === 'Set') throw reject('SETTINGS clauses are not allowed in queries.');
    const forbidden = FORBIDDEN_NODES.get(node.type);
    if (forbidden) throw reject(forbidden);
    if (node.type === 'TableIdentifier') {
      // Pure syntax, so scalar subqueries the analyser later folds away are seen here too.
      const name = node.label.replace(/\s*\(alias .*\)$/, '').trim();
      if (!READABLE_TABLE_NAMES.has(name) && !cteNames.has(name)) throw reject('Only the tables events and users can be queried.');
      continue;
    }
    if (node.type !== 'Function') continue;
    const name = functionName(node);
    if (isTableFunction(node)) {
      if (!ALLOWED_TABLE_FUNCTIONS.has(name)) throw reject(`Table function ${name} is not allowed.`);
    } else if (!isAllowedFunction(name)) {
      throw reject(`Function ${name} is not allowed.`);
    }
  }
}

/**
 * The names a query defines with `WITH name AS (…)`, from
 * `EXPLAIN QUERY TREE run_passes=0` (which resolves and executes nothing).
 * Only plain identifiers are accepted as CTE names.
 */
export function cteNamesOf(explainQueryTreeNoPasses: string): Set<string> {
  const names = new Set<string>();
  for (const match of explainQueryTreeNoPasses.matchAll(/\bcte_name: ([^,\n]+)/g)) {
    const name = (match[1] ?? '').trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw reject('Common table expression names must be plain identifiers.');
    names.add(name);
  }
  return names;
}

/**
 * Step 3: every table the analyser resolved (`EXPLAIN QUERY TREE`) is one of
 * the two views; this also rules out implicit file tables, `system.*`,
 * `information_schema.*` and every other database.
 */
export function checkQueryTree(explainQueryTree: string): void {
  for (const match of explainQueryTree.matchAll(/\btable_function_name: ([^,\s]+)/g)) {
    if (!ALLOWED_TABLE_FUNCTIONS.has(match[1] ?? '')) throw reject(`Table function ${match[1]} is not allowed.`);
  }
  for (const match of explainQueryTree.matchAll(/\btable_name: ([^,\n]+)/g)) {
    if (!READABLE_TABLES.has((match[1] ?? '').trim())) throw reject('Only the tables events and users can be queried.');
  }
  if (/^\s*TABLE_FUNCTION\b/m.test(explainQueryTree) && !/\btable_function_name:/.test(explainQueryTree)) {
    throw reject('Table functions are not allowed.');
  }
}

function isTableFunction(node: AstNode): boolean {
  return node.parent?.type === 'TableExpression';
}

/**
 * Whether a function name is on the allowlist, directly, case-insensitively
 * where ClickHouse matches it so, or as an aggregate with combinator suffixes.
 */
export function isAllowedFunction(name: string): boolean {
  if (SCALAR_FUNCTIONS.has(name) || AGGREGATE_FUNCTIONS.has(name)) return true;
  if (CASE_INSENSITIVE_FUNCTIONS.has(name.toLowerCase())) return true;
  // sumIf, uniqArrayIf, countDistinct, avgState…: strip combinators down to an aggregate.
  let base = name;
  for (;;) {
    const suffix = AGGREGATE_COMBINATORS.find((s) => base.length > s.length && base.endsWith(s));
    if (!suffix) return false;
    base = base.slice(0, -suffix.length);
    if (AGGREGATE_FUNCTIONS.has(base)) return true;
    if (CASE_INSENSITIVE_FUNCTIONS.has(base.toLowerCase()) && AGGREGATE_LOWER.has(base.toLowerCase())) return true;
  }
}

const AGGREGATE_LOWER: ReadonlySet<string> = new Set([...AGGREGATE_FUNCTIONS].map((n) => n.toLowerCase()));
