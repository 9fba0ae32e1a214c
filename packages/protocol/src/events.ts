import { z } from 'zod';
import { CUSTOM_EVENT_NAME, jsonShapeProblem, MAX_BATCH_EVENTS, MAX_SERVER_EVENTS } from './limits.ts';

export * from './limits.ts';

/** A UUID as Stack Auth accepts it: version nibble 1–8, variant 8, 9, a or b. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** A UUID field whose error reads `Invalid <field>`, as in Stack Auth. */
export const uuidField = (field: string) => z.string().regex(UUID_PATTERN, `Invalid ${field}`);

export const BUILT_IN_BROWSER_EVENTS = ['$page-view', '$click'] as const;
/** Event data: a JSON object within the depth and key limits. */
export const eventDataSchema = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const problem = jsonShapeProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `{path} ${problem}` });
});

const browserEventType = z.string().superRefine((value, ctx) => {
  if ((BUILT_IN_BROWSER_EVENTS as readonly string[]).includes(value)) return;
  if (value.startsWith('$')) {
    ctx.addIssue({
      code: 'custom',
      message: `{path} must be one of the following values: ${BUILT_IN_BROWSER_EVENTS.join(', ')}`,
    });
  } else if (!CUSTOM_EVENT_NAME.test(value)) {
    ctx.addIssue({
      code: 'custom',
      message: '{path} must be $page-view, $click or a custom name of 1 to 64 characters from A-Z a-z 0-9 _ . : -',
    });
  }
});

/** Body of `POST /analytics/events/batch` (browser events). */
export const eventBatchSchema = z
  .object({
    session_replay_segment_id: uuidField('session_replay_segment_id'),
    batch_id: uuidField('batch_id'),
    sent_at_ms: z.number().int().min(0),
    events: z
      .array(
        z
          .object({
            event_type: browserEventType,
            event_at_ms: z.number().int().min(0),
            data: eventDataSchema,
          })
          .strict(),
      )
      .min(1)
      .max(MAX_BATCH_EVENTS),
  })
  .strict();
export type EventBatch = z.infer<typeof eventBatchSchema>;

export const eventBatchResultSchema = z.object({ inserted: z.number().int() });

/** Data shapes of the system event types a backend may send. */
const ipInfoSchema = z
  .object({
    ip: z.string().max(64),
    is_trusted: z.boolean(),
    country_code: z.string().max(8).nullable(),
    region_code: z.string().max(16).nullable(),
    city_name: z.string().max(256).nullable(),
    latitude: z.number().nullable(),
    longitude: z.number().nullable(),
    tz_identifier: z.string().max(64).nullable(),
  })
  .strict();

export const systemEventDataSchemas = {
  '$token-refresh': z
    .object({ refresh_token_id: z.string().min(1).max(64), is_anonymous: z.boolean(), ip_info: ipInfoSchema.nullable() })
    .strict(),
  '$sign-up-rule-trigger': z
    .object({
      rule_id: z.string().min(1).max(256),
      action: z.string().min(1).max(64),
      email: z.string().max(320).nullable(),
      auth_method: z.string().max(64).nullable(),
      oauth_provider: z.string().max(64).nullable(),
    })
    .strict(),
} as const;
export const SYSTEM_EVENT_TYPES = Object.keys(systemEventDataSchemas) as (keyof typeof systemEventDataSchemas)[];

const serverEventType = z.string().superRefine((value, ctx) => {
  if ((SYSTEM_EVENT_TYPES as string[]).includes(value) || (BUILT_IN_BROWSER_EVENTS as readonly string[]).includes(value)) {
    return;
  }
  if (value.startsWith('$') || !CUSTOM_EVENT_NAME.test(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `{path} must be one of ${[...BUILT_IN_BROWSER_EVENTS, ...SYSTEM_EVENT_TYPES].join(', ')} or a custom name of 1 to 64 characters from A-Z a-z 0-9 _ . : -`,
    });
  }
});

const optionalId = (field: string) => uuidField(field).nullable().optional();

/** Body of `POST /analytics/events` (server-side events for any user of the tenancy). */
export const serverEventsSchema = z
  .object({
    events: z
      .array(
        z
          .object({
            event_type: serverEventType,
            event_at_ms: z.number().int().min(0).optional(),
            data: eventDataSchema,
            user_id: optionalId('user_id'),
            team_id: optionalId('team_id'),
            refresh_token_id: optionalId('refresh_token_id'),
            session_replay_id: optionalId('session_replay_id'),
            session_replay_segment_id: optionalId('session_replay_segment_id'),
          })
          .strict()
          .superRefine((event, ctx) => {
            // Own keys only: a custom name such as "constructor" is not a system type.
            if (!Object.hasOwn(systemEventDataSchemas, event.event_type)) return;
            const schema = systemEventDataSchemas[event.event_type as keyof typeof systemEventDataSchemas];
            const parsed = schema.safeParse(event.data);
            if (parsed.success) return;
            for (const issue of parsed.error.issues) {
              ctx.addIssue({
                code: 'custom',
                path: ['data', ...issue.path],
                message: `{path} does not fit ${event.event_type}: ${issue.message}`,
              });
            }
          }),
      )
      .min(1)
      .max(MAX_SERVER_EVENTS),
  })
  .strict();
export type ServerEvents = z.infer<typeof serverEventsSchema>;
