import { z } from 'zod';
import { uuidField } from './events.ts';

export const MAX_REPLAY_BODY_BYTES = 1_000_000;
export const MAX_REPLAY_EVENTS = 5000;

/** Body of `POST /session-replays/batch`; the event count is checked after the size (Stack Auth's order). */
export const replayBatchSchema = z
  .object({
    browser_session_id: uuidField('browser_session_id'),
    session_replay_segment_id: uuidField('session_replay_segment_id'),
    batch_id: uuidField('batch_id'),
    started_at_ms: z.number().int().min(0),
    sent_at_ms: z.number().int().min(0),
    events: z.array(z.record(z.string(), z.unknown())),
  })
  .strict();
export type ReplayBatch = z.infer<typeof replayBatchSchema>;

export const replayBatchResultSchema = z.object({
  session_replay_id: z.string(),
  batch_id: z.string(),
  s3_key: z.string(),
  deduped: z.boolean(),
});

export const replaySchema = z.object({
  id: z.string(),
  project_user: z.object({ id: z.string(), display_name: z.string().nullable(), primary_email: z.string().nullable() }),
  started_at_millis: z.number(),
  last_event_at_millis: z.number(),
  chunk_count: z.number(),
  event_count: z.number(),
});

export const replayChunkSchema = z.object({
  id: z.string(),
  batch_id: z.string(),
  session_replay_segment_id: z.string(),
  browser_session_id: z.string(),
  event_count: z.number(),
  byte_length: z.number(),
  first_event_at_millis: z.number(),
  last_event_at_millis: z.number(),
  created_at_millis: z.number(),
});
