/**
 * Prints rows as an aligned text table on stdout.
 *
 * @example
 * printTable(['name', 'status'], [['0001_init', 'applied']]);
 */
export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
}
