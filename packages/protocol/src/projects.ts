import { z } from 'zod';

/** Body of `POST /internal/projects` (operator). */
export const projectCreateSchema = z
  .object({
    display_name: z.string().min(1).max(256).default('Untitled project'),
    analytics: z.object({ enabled: z.boolean() }).strict().optional(),
  })
  .strict();

export const projectKeysSchema = z.object({
  publishable_client_key: z.string(),
  secret_server_key: z.string(),
  super_secret_admin_key: z.string(),
});

export const projectCreatedSchema = projectKeysSchema.extend({ project_id: z.string() });

export const projectSchema = z.object({
  id: z.string(),
  display_name: z.string(),
  analytics: z.object({ enabled: z.boolean() }),
  created_at_millis: z.number(),
});
export type ProjectRead = z.infer<typeof projectSchema>;

/** Body of `PATCH /internal/projects/current` (admin). */
export const projectUpdateSchema = z
  .object({
    display_name: z.string().min(1).max(256).optional(),
    analytics: z.object({ enabled: z.boolean() }).strict().optional(),
  })
  .strict();

/**
 * `GET /analytics/client-config`: what a browser SDK needs to know before it
 * captures anything. Publishable-key access, no user needed.
 */
export const analyticsClientConfigSchema = z.object({ enabled: z.boolean() });
export type AnalyticsClientConfig = z.infer<typeof analyticsClientConfigSchema>;
