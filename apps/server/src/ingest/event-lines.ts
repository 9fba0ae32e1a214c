import type { EventRow } from '../storage/clickhouse/events.ts';

/** The columns every row of one request shares (identity, replay, batch). */
const SHARED = [
  'project_id',
  'branch_id',
  'user_id',
  'team_id',
  'refresh_token_id',
  'session_replay_id',
  'session_replay_segment_id',
] as const;

const sharedWith = (a: EventRow, b: EventRow) => SHARED.every((column) => a[column] === b[column]);

/**
 * The JSONEachRow lines of one request's rows plus their `batch_id`. A line
 * holds the same keys and values as `JSON.stringify({ ...row, batch_id })`
 * (JSONEachRow matches columns by name, so their order is free): the columns
 * the rows share are serialised once per request and appended to each row's
 * own `event_type`, `event_at` and `data`, which is most of the writer's CPU
 * saved on a 50-event batch. Rows that differ in a shared column (server
 * events of several users) get their own suffix.
 *
 * @example
 * eventLines(rows, 'b1'); // '{"event_type":"$click","event_at":1,"data":{},"project_id":"p",…,"batch_id":"b1"}\n…'
 */
export function eventLines(rows: readonly EventRow[], batchId: string | null): string {
  let out = '';
  let shared: EventRow | undefined;
  let suffix = '';
  for (const row of rows) {
    if (!shared || !sharedWith(shared, row)) {
      shared = row;
      suffix = ',';
      // `undefined` leaves the key out, as JSON.stringify does.
      for (const column of SHARED) if (row[column] !== undefined) suffix += `"${column}":${JSON.stringify(row[column])},`;
      suffix += `"batch_id":${JSON.stringify(batchId)}}\n`;
    }
    if (row.event_type === undefined || row.event_at === undefined || row.data === undefined) {
      out += `${JSON.stringify({ ...row, batch_id: batchId })}\n`;
      continue;
    }
    out += `{"event_type":${JSON.stringify(row.event_type)},"event_at":${JSON.stringify(row.event_at)},"data":${JSON.stringify(row.data)}${suffix}`;
  }
  return out;
}
