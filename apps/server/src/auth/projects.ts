import { randomUUID } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Postgres, PostgresQueries } from '../storage/postgres/db.ts';
import { projectKeyKinds, projectKeys, projects, type ProjectKeyKind } from '../storage/postgres/schema.ts';
import { hashSecret, newProjectKey } from './secrets.ts';

export type Project = Readonly<{
  id: string;
  displayName: string;
  analyticsEnabled: boolean;
  createdAt: Date;
}>;

/** The three secrets of a project, shown once at creation or rotation. */
export type ProjectKeys = Readonly<{
  publishable_client_key: string;
  secret_server_key: string;
  super_secret_admin_key: string;
}>;

const KEY_FIELD: Record<ProjectKeyKind, keyof ProjectKeys> = {
  publishable_client: 'publishable_client_key',
  secret_server: 'secret_server_key',
  super_secret_admin: 'super_secret_admin_key',
};

/**
 * Creates a project (analytics off) with a fresh set of keys.
 *
 * @example
 * const { project, keys } = await createProject(pg, { displayName: 'Demo' });
 */
export async function createProject(
  pg: Postgres,
  input: { displayName: string; analyticsEnabled?: boolean; id?: string },
): Promise<{ project: Project; keys: ProjectKeys }> {
  return pg.transaction(async (tx) => {
    const [row] = await tx.db
      .insert(projects)
      .values({ id: input.id ?? randomUUID(), displayName: input.displayName, analyticsEnabled: input.analyticsEnabled ?? false })
      .returning();
    if (!row) throw new Error('project insert returned no row');
    const keys = await issueKeys(tx, row.id);
    return { project: row, keys };
  });
}

/** Reads a project, or undefined. */
export async function findProject(pg: PostgresQueries, projectId: string): Promise<Project | undefined> {
  const [row] = await pg.db.select().from(projects).where(eq(projects.id, projectId)).limit(1);
  return row;
}

/** Updates a project's settings and returns the new state. */
export async function updateProject(
  pg: Postgres,
  projectId: string,
  patch: { displayName?: string | undefined; analyticsEnabled?: boolean | undefined },
): Promise<Project | undefined> {
  const values: Partial<typeof projects.$inferInsert> = {};
  if (patch.displayName !== undefined) values.displayName = patch.displayName;
  if (patch.analyticsEnabled !== undefined) values.analyticsEnabled = patch.analyticsEnabled;
  if (Object.keys(values).length === 0) return findProject(pg, projectId);
  const [row] = await pg.db.update(projects).set(values).where(eq(projects.id, projectId)).returning();
  return row;
}

/** Revokes every active key of the project and issues a new set, atomically. */
export async function rotateProjectKeys(pg: Postgres, projectId: string): Promise<ProjectKeys> {
  return pg.transaction(async (tx) => {
    await tx.db
      .update(projectKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(projectKeys.projectId, projectId), isNull(projectKeys.revokedAt)));
    return issueKeys(tx, projectId);
  });
}

/** The hashes of a project's active keys, by kind. */
export async function activeKeyHashes(pg: PostgresQueries, projectId: string): Promise<Record<ProjectKeyKind, Buffer[]>> {
  const rows = await pg.db
    .select({ kind: projectKeys.kind, hash: projectKeys.secretHash })
    .from(projectKeys)
    .where(and(eq(projectKeys.projectId, projectId), isNull(projectKeys.revokedAt)));
  const byKind: Record<ProjectKeyKind, Buffer[]> = { publishable_client: [], secret_server: [], super_secret_admin: [] };
  for (const row of rows) byKind[row.kind].push(row.hash);
  return byKind;
}

async function issueKeys(tx: PostgresQueries, projectId: string): Promise<ProjectKeys> {
  const secrets = Object.fromEntries(projectKeyKinds.map((kind) => [KEY_FIELD[kind], newProjectKey(kind)])) as ProjectKeys;
  await tx.db.insert(projectKeys).values(
    projectKeyKinds.map((kind) => ({
      id: randomUUID(),
      projectId,
      kind,
      secretHash: hashSecret(secrets[KEY_FIELD[kind]]),
    })),
  );
  return secrets;
}
