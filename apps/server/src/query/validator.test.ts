import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { functionName, parseAst } from './ast-tree.ts';
import { checkAst, checkQueryTree, checkStatementClass, isAllowedFunction } from './validator.ts';

// `EXPLAIN AST` / `EXPLAIN QUERY TREE` output captured from chDB 26.7 on a tenant
// reader connection (TSVRaw). Long projection lists of system tables are cut
// down; nothing else is edited.
const AST = {
  count: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Function count (alias n) (children 1)
     ExpressionList
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events
`,
  systemTables: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier system.tables
`,
  numbers: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Identifier number
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Function numbers (children 1)
       ExpressionList (children 1)
        Literal UInt64_10
`,
  subquerySettings: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Subquery (children 1)
       SelectWithUnionQuery (children 1)
        ExpressionList (children 1)
         SelectQuery (children 3)
          ExpressionList (children 1)
           Asterisk
          TablesInSelectQuery (children 1)
           TablesInSelectQueryElement (children 1)
            TableExpression (children 1)
             TableIdentifier events
          Set
`,
  formatJson: `SelectWithUnionQuery (children 2)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events
 Identifier JSON
`,
  scalarFile: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Function file (alias f) (children 1)
     ExpressionList (children 1)
      Literal '/etc/passwd'
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events
`,
  tableFunctionFile: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Function file (children 1)
       ExpressionList (children 2)
        Literal '/etc/passwd'
        Literal 'RawBLOB'
`,
  fileInSubquery: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 3)
   ExpressionList (children 1)
    Function count (children 1)
     ExpressionList
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events
   Function in (children 1)
    ExpressionList (children 2)
     Identifier event_type
     Subquery (children 1)
      SelectWithUnionQuery (children 1)
       ExpressionList (children 1)
        SelectQuery (children 2)
         ExpressionList (children 1)
          Asterisk
         TablesInSelectQuery (children 1)
          TablesInSelectQueryElement (children 1)
           TableExpression (children 1)
            Function file (children 1)
             ExpressionList (children 2)
              Literal '/etc/passwd'
              Literal 'LineAsString'
`,
  combinators: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 4)
    Function countIf (alias c) (children 1)
     ExpressionList (children 1)
      Function equals (children 1)
       ExpressionList (children 2)
        Identifier event_type
        Literal 'x'
    Function uniqIf (alias u) (children 1)
     ExpressionList (children 2)
      Identifier user_id
      Literal UInt64_1
    Function sumArray (alias s) (children 1)
     ExpressionList (children 1)
      Literal Array_[UInt64_1, UInt64_2]
    Function avgOrNull (alias a) (children 1)
     ExpressionList (children 1)
      Literal UInt64_1
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events
`,
  lambdaAndWindow: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 2)
    Function arrayMap (alias m) (children 1)
     ExpressionList (children 2)
      Function lambda (children 1)
       ExpressionList (children 2)
        Function tuple (children 1)
         ExpressionList (children 1)
          Identifier x
        Function plus (children 1)
         ExpressionList (children 2)
          Identifier x
          Literal UInt64_1
      Literal Array_[UInt64_1, UInt64_2]
    Function row_number (alias rn) (children 2)
     ExpressionList
     WindowDefinition (children 2)
      ExpressionList (children 1)
       Identifier event_type
      ExpressionList (children 1)
       OrderByElement (children 1)
        Identifier event_at
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events
`,
  join: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 3)
   ExpressionList (children 2)
    Identifier u.display_name
    Function count (children 1)
     ExpressionList
   TablesInSelectQuery (children 2)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events (alias e)
    TablesInSelectQueryElement (children 2)
     TableExpression (children 1)
      TableIdentifier users (alias u)
     TableJoin (children 1)
      Function equals (children 1)
       ExpressionList (children 2)
        Identifier e.user_id
        Function toString (children 1)
         ExpressionList (children 1)
          Identifier u.id
   ExpressionList (children 1)
    Identifier u.display_name
`,
  union: `SelectWithUnionQuery (children 1)
 ExpressionList (children 2)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Identifier event_type
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events
  SelectQuery (children 2)
   ExpressionList (children 1)
    Identifier display_name
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier users
`,
  globalIn: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 3)
   ExpressionList (children 1)
    Function count (children 1)
     ExpressionList
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events
   Function globalIn (children 1)
    ExpressionList (children 2)
     Identifier project_id
     Subquery (children 1)
      SelectWithUnionQuery (children 1)
       ExpressionList (children 1)
        SelectQuery (children 2)
         ExpressionList (children 1)
          Identifier project_id
         TablesInSelectQuery (children 1)
          TablesInSelectQueryElement (children 1)
           TableExpression (children 1)
            TableIdentifier events
`,
  /** `SELECT * APPLY(file) FROM (SELECT '/etc/passwd' AS p FROM numbers(1))`: no Function node names file. */
  applyFile: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk (children 1)
     ColumnsTransformerList (children 1)
      ColumnsApplyTransformer
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Subquery (children 1)
       SelectWithUnionQuery (children 1)
        ExpressionList (children 1)
         SelectQuery (children 2)
          ExpressionList (children 1)
           Literal '/etc/passwd' (alias p)
          TablesInSelectQuery (children 1)
           TablesInSelectQueryElement (children 1)
            TableExpression (children 1)
             Function numbers (children 1)
              ExpressionList (children 1)
               Literal UInt64_1
`,
  /** `SELECT (SELECT groupArray(name) FROM system.tables) AS x FROM events LIMIT 1` */
  scalarSubquery: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 3)
   ExpressionList (children 1)
    Subquery (alias x) (children 1)
     SelectWithUnionQuery (children 1)
      ExpressionList (children 1)
       SelectQuery (children 2)
        ExpressionList (children 1)
         Function groupArray (children 1)
          ExpressionList (children 1)
           Identifier name
        TablesInSelectQuery (children 1)
         TablesInSelectQueryElement (children 1)
          TableExpression (children 1)
           TableIdentifier system.tables
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events
   Literal UInt64_1
`,
  chdbVersion: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Function chdb (children 1)
     ExpressionList
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events
`,
};

const QUERY_TREE = {
  count: `QUERY id: 0
  PROJECTION COLUMNS
    n UInt64
  PROJECTION
    LIST id: 1, nodes: 1
      FUNCTION id: 2, function_name: count, function_type: aggregate, result_type: UInt64
  JOIN TREE
    TABLE id: 3, alias: __table1, table_name: default.events
`,
  systemTables: `QUERY id: 0
  PROJECTION COLUMNS
    database String
    name String
  PROJECTION
    LIST id: 1, nodes: 42
      COLUMN id: 2, column_name: database, result_type: String, source_id: 3
      COLUMN id: 4, column_name: name, result_type: String, source_id: 3
  JOIN TREE
    TABLE id: 3, alias: __table1, table_name: system.tables
`,
  informationSchema: `QUERY id: 0
  PROJECTION COLUMNS
    table_catalog String
  PROJECTION
    LIST id: 1, nodes: 18
      COLUMN id: 2, column_name: table_catalog, result_type: String, source_id: 3
  JOIN TREE
    TABLE id: 3, alias: __table1, table_name: INFORMATION_SCHEMA.TABLES
`,
  /** `SELECT 1`: the analyser reads the one-row table system.one. */
  noFrom: `QUERY id: 0
  PROJECTION COLUMNS
    1 UInt8
  PROJECTION
    LIST id: 1, nodes: 1
      CONSTANT id: 2, constant_value: UInt64_1, constant_value_type: UInt8
  JOIN TREE
    TABLE id: 3, alias: __table1, table_name: system.one
`,
  numbers: `QUERY id: 0
  PROJECTION COLUMNS
    number UInt64
  PROJECTION
    LIST id: 1, nodes: 1
      COLUMN id: 2, column_name: number, result_type: UInt64, source_id: 3
  JOIN TREE
    TABLE_FUNCTION id: 3, alias: __table1, table_function_name: numbers
      ARGUMENTS
        LIST id: 4, nodes: 1
          CONSTANT id: 5, constant_value: UInt64_10, constant_value_type: UInt8
`,
  /** `WITH events AS (SELECT * FROM analytics_internal.events) SELECT count() FROM events` */
  cteShadowsView: `QUERY id: 0
  PROJECTION COLUMNS
    count() UInt64
  PROJECTION
    LIST id: 1, nodes: 1
      FUNCTION id: 2, function_name: count, function_type: aggregate, result_type: UInt64
  JOIN TREE
    QUERY id: 3, alias: __table1, is_subquery: 1, is_cte: 1, cte_name: events
      PROJECTION COLUMNS
        event_type LowCardinality(String)
      PROJECTION
        LIST id: 4, nodes: 1
          COLUMN id: 5, column_name: event_type, result_type: LowCardinality(String), source_id: 6
      JOIN TREE
        TABLE id: 6, alias: __table2, table_name: analytics_internal.events
`,
  crossJoinHidden: `QUERY id: 0
  PROJECTION COLUMNS
    event_type LowCardinality(String)
    i.event_type LowCardinality(String)
  PROJECTION
    LIST id: 1, nodes: 23
      COLUMN id: 2, column_name: event_type, result_type: LowCardinality(String), source_id: 3
      COLUMN id: 14, column_name: event_type, result_type: LowCardinality(String), source_id: 15
  JOIN TREE
    CROSS JOIN id: 27
      TABLE EXPRESSION
        TABLE id: 3, alias: __table1, table_name: default.events
      TABLE EXPRESSION
        TABLE id: 15, alias: __table2, table_name: analytics_internal.events
`,
  join: `QUERY id: 0
  PROJECTION COLUMNS
    display_name Nullable(String)
    count() UInt64
  PROJECTION
    LIST id: 1, nodes: 2
      COLUMN id: 2, column_name: display_name, result_type: Nullable(String), source_id: 3
      FUNCTION id: 4, function_name: count, function_type: aggregate, result_type: UInt64
  JOIN TREE
    JOIN id: 5, strictness: ALL, kind: INNER
      LEFT TABLE EXPRESSION
        TABLE id: 6, alias: __table1, table_name: default.events
      RIGHT TABLE EXPRESSION
        TABLE id: 3, alias: __table2, table_name: default.users
      JOIN EXPRESSION
        FUNCTION id: 7, function_name: equals, function_type: ordinary, result_type: Nullable(UInt8)
          ARGUMENTS
            LIST id: 8, nodes: 2
              COLUMN id: 9, column_name: user_id, result_type: Nullable(String), source_id: 6
              FUNCTION id: 10, function_name: toString, function_type: ordinary, result_type: String
                ARGUMENTS
                  LIST id: 11, nodes: 1
                    COLUMN id: 12, column_name: id, result_type: UUID, source_id: 3
  GROUP BY
    LIST id: 13, nodes: 1
      COLUMN id: 2, column_name: display_name, result_type: Nullable(String), source_id: 3
`,
  union: `UNION id: 0, union_mode: UNION_ALL
  QUERIES
    LIST id: 1, nodes: 2
      QUERY id: 2, alias: __table1
        PROJECTION COLUMNS
          event_type LowCardinality(String)
        PROJECTION
          LIST id: 3, nodes: 1
            COLUMN id: 4, column_name: event_type, result_type: LowCardinality(String), source_id: 5
        JOIN TREE
          TABLE id: 5, alias: __table2, table_name: default.events
      QUERY id: 6, alias: __table3
        PROJECTION COLUMNS
          display_name Nullable(String)
        PROJECTION
          LIST id: 7, nodes: 1
            COLUMN id: 8, column_name: display_name, result_type: Nullable(String), source_id: 9
        JOIN TREE
          TABLE id: 9, alias: __table4, table_name: default.users
`,
  /** The analyser ran the scalar subquery over system.tables and left only its hash. */
  scalarSubquery: `QUERY id: 0
  PROJECTION COLUMNS
    x Array(String)
  PROJECTION
    LIST id: 1, nodes: 1
      FUNCTION id: 2, function_name: __getScalar, function_type: ordinary, result_type: Array(String)
        ARGUMENTS
          LIST id: 3, nodes: 1
            CONSTANT id: 4, constant_value: '9764298555966727883_17409685101319442944', constant_value_type: String
  JOIN TREE
    TABLE id: 5, alias: __table1, table_name: default.events
  LIMIT
    CONSTANT id: 6, constant_value: UInt64_1, constant_value_type: UInt64
`,
  /** The analyser expanded APPLY(file) into a call of file. */
  applyFile: `QUERY id: 0
  PROJECTION COLUMNS
    file(p) String
  PROJECTION
    LIST id: 1, nodes: 1
      FUNCTION id: 2, function_name: file, function_type: ordinary, result_type: String
        ARGUMENTS
          LIST id: 3, nodes: 1
            COLUMN id: 4, column_name: p, result_type: String, source_id: 5
  JOIN TREE
    QUERY id: 5, alias: __table1, is_subquery: 1
      PROJECTION COLUMNS
        p String
      PROJECTION
        LIST id: 6, nodes: 1
          CONSTANT id: 7, constant_value: '/etc/passwd', constant_value_type: String
      JOIN TREE
        TABLE_FUNCTION id: 8, alias: __table2, table_function_name: numbers
          ARGUMENTS
            LIST id: 9, nodes: 1
              CONSTANT id: 10, constant_value: UInt64_1, constant_value_type: UInt8
`,
};

/** An `ANALYTICS_QUERY_ERROR`, whatever its wording. */
const refusal = (error: unknown) => (error as { code?: string }).code === 'ANALYTICS_QUERY_ERROR';

/** Steps 2 and 3 together, as the runner applies them. */
const validate = (ast: string, queryTree: string) => {
  checkAst(ast);
  checkQueryTree(queryTree);
};

describe('parseAst', () => {
  test('reads types, labels, depths, child counts and parents', () => {
    const nodes = parseAst(AST.count);
    assert.deepEqual(
      nodes.map((n) => [n.type, n.label, n.depth, n.children, n.parent?.type]),
      [
        ['SelectWithUnionQuery', '', 0, 1, undefined],
        ['ExpressionList', '', 1, 1, 'SelectWithUnionQuery'],
        ['SelectQuery', '', 2, 2, 'ExpressionList'],
        ['ExpressionList', '', 3, 1, 'SelectQuery'],
        ['Function', 'count (alias n)', 4, 1, 'ExpressionList'],
        ['ExpressionList', '', 5, 0, 'Function'],
        ['TablesInSelectQuery', '', 3, 1, 'SelectQuery'],
        ['TablesInSelectQueryElement', '', 4, 1, 'TablesInSelectQuery'],
        ['TableExpression', '', 5, 1, 'TablesInSelectQueryElement'],
        ['TableIdentifier', 'events', 6, 0, 'TableExpression'],
      ],
    );
  });

  test('functionName drops the alias', () => {
    const [fn] = parseAst(' Function count (alias n) (children 1)').filter((n) => n.type === 'Function');
    assert.ok(fn);
    assert.equal(functionName(fn), 'count');
    const [plain] = parseAst('Function numbers (children 1)');
    assert.ok(plain);
    assert.equal(functionName(plain), 'numbers');
  });

  test('ignores blank lines', () => {
    assert.equal(parseAst('\n\nSelectWithUnionQuery (children 1)\n\n').length, 1);
    assert.deepEqual(parseAst(''), []);
  });
});

describe('checkStatementClass', () => {
  test('one read-only statement passes', () => {
    assert.doesNotThrow(() => checkStatementClass({ statementCount: 1, readOnly: true, parsed: true }));
  });

  test('nothing parsed, several statements and writes are refused', () => {
    assert.throws(() => checkStatementClass({ statementCount: 0, readOnly: false, parsed: false }), /could not be parsed/);
    assert.throws(() => checkStatementClass({ statementCount: 2, readOnly: true, parsed: true }), /Only one statement/);
    assert.throws(() => checkStatementClass({ statementCount: 3, readOnly: false, parsed: true }), /Only one statement/);
    assert.throws(() => checkStatementClass({ statementCount: 1, readOnly: false, parsed: true }), /Only SELECT queries/);
    assert.throws(() => checkStatementClass({ statementCount: 1, readOnly: false, parsed: false }), /Only SELECT queries/);
  });

  test('errors are ANALYTICS_QUERY_ERROR', () => {
    assert.throws(() => checkStatementClass({ statementCount: 2, readOnly: true, parsed: true }), refusal);
  });
});

describe('checkAst', () => {
  test('legitimate queries pass', () => {
    for (const [name, ast] of Object.entries({
      count: AST.count,
      numbers: AST.numbers,
      combinators: AST.combinators,
      lambdaAndWindow: AST.lambdaAndWindow,
      join: AST.join,
      union: AST.union,
    })) {
      assert.doesNotThrow(() => checkAst(ast), name);
    }
  });

  test('table names are checked in the syntax tree too (scalar subqueries are folded away later)', () => {
    assert.throws(() => checkAst(AST.systemTables), /Only the tables events and users/);
    const viaCte = AST.count.replace('TableIdentifier events', 'TableIdentifier recent');
    assert.throws(() => checkAst(viaCte), /Only the tables events and users/);
    assert.doesNotThrow(() => checkAst(viaCte, new Set(['recent'])));
  });

  test('APPLY transformers are refused (they call functions the tree does not show)', () => {
    const apply = [
      'SelectWithUnionQuery (children 1)',
      ' ExpressionList (children 1)',
      '  SelectQuery (children 1)',
      '   ExpressionList (children 1)',
      "    ColumnsRegexpMatcher (children 1)",
      '     ColumnsTransformerList (children 1)',
      '      ColumnsApplyTransformer',
    ].join('\n');
    assert.throws(() => checkAst(apply), /APPLY transformers/);
  });

  test('the root must be a SELECT', () => {
    assert.throws(() => checkAst(''), /Only SELECT queries/);
    assert.throws(() => checkAst('ShowTablesQuery  analytics_internal\n'), /Only SELECT queries/);
    assert.throws(() => checkAst('SetQuery\n'), /Only SELECT queries/);
    assert.throws(() => checkAst('ExplainQuery (children 1)\n ' + AST.count.replaceAll('\n', '\n ')), /Only SELECT queries/);
  });

  test('FORMAT (a second child of the root) is refused', () => {
    assert.throws(() => checkAst(AST.formatJson), /FORMAT and INTO clauses are not allowed/);
  });

  test('a SETTINGS clause at any depth is refused', () => {
    assert.throws(() => checkAst(AST.subquerySettings), /SETTINGS clauses are not allowed/);
  });

  test('scalar functions off the allowlist are refused by name', () => {
    assert.throws(() => checkAst(AST.scalarFile), /Function file is not allowed/);
    assert.throws(() => checkAst(AST.globalIn), /Function globalIn is not allowed/);
  });

  test('table functions other than numbers are refused, also inside subqueries', () => {
    assert.throws(() => checkAst(AST.tableFunctionFile), /Table function file is not allowed/);
    assert.throws(() => checkAst(AST.fileInSubquery), /Table function file is not allowed/);
  });

  test('a table function is judged as a table function, not as the scalar of the same name', () => {
    // `format` is an allowed scalar, but not an allowed table function.
    const ast = AST.tableFunctionFile.replace('Function file', 'Function format');
    assert.throws(() => checkAst(ast), /Table function format is not allowed/);
    // `numbers` is an allowed table function, but no allowed scalar.
    const scalar = AST.scalarFile.replace('Function file (alias f)', 'Function numbers (alias f)');
    assert.throws(() => checkAst(scalar), /Function numbers is not allowed/);
  });

  test('the chDB version function is refused (reveals the engine version)', () => {
    assert.throws(() => checkAst(AST.chdbVersion), /Function chdb is not allowed/);
  });
});

describe('checkQueryTree', () => {
  test('the two views and numbers() pass', () => {
    for (const [name, tree] of Object.entries({
      count: QUERY_TREE.count,
      numbers: QUERY_TREE.numbers,
      join: QUERY_TREE.join,
      union: QUERY_TREE.union,
    })) {
      assert.doesNotThrow(() => checkQueryTree(tree), name);
    }
  });

  test('system, information_schema and hidden tables are refused without naming them', () => {
    for (const [name, tree] of Object.entries({
      systemTables: QUERY_TREE.systemTables,
      informationSchema: QUERY_TREE.informationSchema,
      cteShadowsView: QUERY_TREE.cteShadowsView,
      crossJoinHidden: QUERY_TREE.crossJoinHidden,
    })) {
      assert.throws(
        () => checkQueryTree(tree),
        (error: unknown) => {
          const message = (error as Error).message;
          return message === 'Only the tables events and users can be queried.' && !/system|analytics_internal|information/i.test(message);
        },
        name,
      );
    }
  });

  test('a query without FROM resolves to system.one, which is allowed (one row, one constant column)', () => {
    assert.doesNotThrow(() => checkQueryTree(QUERY_TREE.noFrom));
  });

  test('table functions other than numbers are refused; an unnamed table function too', () => {
    assert.throws(() => checkQueryTree(QUERY_TREE.numbers.replace('table_function_name: numbers', 'table_function_name: file')), /Table function file/);
    assert.throws(() => checkQueryTree('QUERY id: 0\n  JOIN TREE\nTABLE_FUNCTION id: 3, alias: __table1\n'), /Table functions are not allowed/);
  });

  test('an implicit file table resolves to a table of default, which is refused', () => {
    const tree = QUERY_TREE.count.replace('table_name: default.events', 'table_name: default./etc/passwd');
    assert.throws(() => checkQueryTree(tree), /Only the tables events and users/);
  });
});

describe('the validator against bypasses found by the hostile suite', () => {
  test('APPLY(file) is refused (the syntax tree has no Function node for it; the query tree calls file)', () => {
    assert.throws(() => validate(AST.applyFile, QUERY_TREE.applyFile), refusal);
  });

  test('a scalar subquery over system.tables is refused (the query tree keeps only __getScalar)', () => {
    assert.throws(() => validate(AST.scalarSubquery, QUERY_TREE.scalarSubquery), refusal);
  });
});

describe('isAllowedFunction', () => {
  test('allowlisted scalars and aggregates', () => {
    for (const name of ['count', 'sum', 'toString', 'JSONExtractString', 'row_number', 'arrayMap', 'lambda', 'tuple', 'if', 'multiIf', 'CAST', 'lower', 'now']) {
      assert.ok(isAllowedFunction(name), name);
    }
  });

  test('names ClickHouse matches case-insensitively', () => {
    for (const name of ['COUNT', 'Count', 'SUM', 'LOWER', 'cast', 'If', 'ROW_NUMBER', 'Now']) {
      assert.ok(isAllowedFunction(name), name);
    }
    // Case-sensitive names stay case-sensitive.
    for (const name of ['TOSTRING', 'arraymap', 'jsonextractstring']) assert.ok(!isAllowedFunction(name), name);
  });

  test('aggregate combinators, alone and stacked', () => {
    for (const name of [
      'countIf',
      'uniqIf',
      'sumArray',
      'avgOrNull',
      'sumArrayIf',
      'groupArrayDistinct',
      'countDistinct',
      'uniqExactState',
      'sumMerge',
      'quantilesTDigestIf',
      'sumForEach',
      'maxOrDefault',
      'anyLastArgMax',
      'sumResample',
      'COUNTIf',
      'SumIf',
    ]) {
      assert.ok(isAllowedFunction(name), name);
    }
  });

  test('combinators make no scalar or blocked function an aggregate', () => {
    for (const name of ['toStringIf', 'lowerArray', 'fileIf', 'sleepArray', 'getSettingOrDefault', 'getSettingOrNull', 'dictGetOrDefault', 'Array', 'OrNull', 'IfIf', '']) {
      assert.ok(!isAllowedFunction(name), name);
    }
  });

  test('functions that read files, the network, settings, other tables or server state are blocked', () => {
    for (const name of [
      'file',
      'FILE',
      'File',
      'url',
      's3',
      'remote',
      'input',
      'getSetting',
      'getSettingOrDefault',
      'getServerSetting',
      'getMacro',
      'sleep',
      'sleepEachRow',
      'throwIf',
      'dictGet',
      'dictGetString',
      'dictHas',
      'joinGet',
      'globalIn',
      'globalNotIn',
      'hostName',
      'fqdn',
      'version',
      'currentUser',
      'currentDatabase',
      'uptime',
      'serverUUID',
      'serverTimezone',
      'queryID',
      'hasColumnInTable',
      'filesystemAvailable',
      'errorCodeToName',
      '__getScalar',
    ]) {
      assert.ok(!isAllowedFunction(name), name);
    }
  });

  test('the chDB version function is blocked', () => {
    assert.ok(!isAllowedFunction('chdb'));
    assert.ok(!isAllowedFunction('CHDB'));
  });
});
