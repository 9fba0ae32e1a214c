import { z } from 'zod';

/** Body of `POST /auth/sessions` (server). */
export const sessionCreateSchema = z
  .object({
    user_id: z.uuid('Invalid user_id'),
    /** Session lifetime; default one year. */
    expires_in_millis: z.number().int().min(60_000).max(5 * 365 * 24 * 3600 * 1000).optional(),
  })
  .strict();

export const sessionCreatedSchema = z.object({ refresh_token: z.string(), access_token: z.string() });
export const accessTokenSchema = z.object({ access_token: z.string() });
export const anonymousSignUpSchema = z.object({ user_id: z.string(), access_token: z.string(), refresh_token: z.string() });
