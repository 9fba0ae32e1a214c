import { z } from 'zod';

/** Largest serialised size of one metadata object, in UTF-8 bytes. */
export const MAX_METADATA_BYTES = 16 * 1024;

const utf8 = new TextEncoder();

const metadata = z
  .record(z.string(), z.unknown())
  .nullable()
  .refine((value) => value === null || utf8.encode(JSON.stringify(value)).length <= MAX_METADATA_BYTES, {
    message: `metadata must serialise to at most ${MAX_METADATA_BYTES} bytes`,
  });

const optionalText = (max: number) => z.string().max(max).nullable().optional();

/** Body of `POST /users`. */
export const userCreateSchema = z
  .object({
    primary_email: z.email().max(320).nullable().optional(),
    primary_email_verified: z.boolean().optional(),
    display_name: optionalText(256),
    profile_image_url: z.url().max(2048).nullable().optional(),
    client_metadata: metadata.optional(),
    client_read_only_metadata: metadata.optional(),
    server_metadata: metadata.optional(),
    is_anonymous: z.boolean().optional(),
    restricted_by_admin: z.boolean().optional(),
    restricted_by_admin_reason: optionalText(1024),
    restricted_by_admin_private_details: optionalText(4096),
    signed_up_at_millis: z.number().int().min(0).max(8_640_000_000_000_000).optional(),
  })
  .strict();
export type UserCreate = z.infer<typeof userCreateSchema>;

/** Body of `PATCH /users/:user_id`: any subset of the create fields. */
export const userUpdateSchema = userCreateSchema.partial().strict();
export type UserUpdate = z.infer<typeof userUpdateSchema>;

/** A user as the API returns it. */
export const userSchema = z.object({
  id: z.string(),
  primary_email: z.string().nullable(),
  primary_email_verified: z.boolean(),
  display_name: z.string().nullable(),
  profile_image_url: z.string().nullable(),
  client_metadata: z.record(z.string(), z.unknown()).nullable(),
  client_read_only_metadata: z.record(z.string(), z.unknown()).nullable(),
  server_metadata: z.record(z.string(), z.unknown()).nullable(),
  is_anonymous: z.boolean(),
  restricted_by_admin: z.boolean(),
  restricted_by_admin_reason: z.string().nullable(),
  restricted_by_admin_private_details: z.string().nullable(),
  signed_up_at_millis: z.number(),
  signed_up_at: z.string(),
});
export type User = z.infer<typeof userSchema>;

export const userListQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(100),
    cursor: z.uuid('Invalid cursor').optional(),
  })
  .strict();

export const userListSchema = z.object({
  items: z.array(userSchema),
  pagination: z.object({ next_cursor: z.string().nullable() }),
});
