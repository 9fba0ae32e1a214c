/** One node of ClickHouse's `EXPLAIN AST` text output. */
export type AstNode = {
  type: string;
  /** The rest of the line: a function, table or identifier name, possibly with `(alias x)`. */
  label: string;
  depth: number;
  /** Number of children ClickHouse reports (0 when it prints none). */
  children: number;
  parent: AstNode | undefined;
};

/**
 * Parses `EXPLAIN AST` output (one node per line, one space of indent per level).
 *
 * @example
 * parseAst('SelectWithUnionQuery (children 1)\n ExpressionList (children 1)');
 */
export function parseAst(text: string): AstNode[] {
  const nodes: AstNode[] = [];
  const open: AstNode[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const depth = line.length - line.trimStart().length;
    const body = line.trim();
    const space = body.indexOf(' ');
    const type = space === -1 ? body : body.slice(0, space);
    let label = space === -1 ? '' : body.slice(space + 1);
    let children = 0;
    const count = /\s*\(children (\d+)\)$/.exec(label);
    if (count) {
      children = Number(count[1]);
      label = label.slice(0, count.index);
    }
    open.length = depth;
    const node: AstNode = { type, label, depth, children, parent: depth > 0 ? open[depth - 1] : undefined };
    open[depth] = node;
    nodes.push(node);
  }
  return nodes;
}

/** The name in a `Function name (alias x)` label. */
export function functionName(node: AstNode): string {
  return node.label.replace(/\s*\(alias .*\)$/, '').trim();
}
