import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { createProject, findProject, type ProjectKeys } from './auth/projects.ts';
import type { Postgres } from './storage/postgres/db.ts';

const FILE_NAME = 'demo-project.json';

export type DemoProject = { project_id: string } & ProjectKeys;

/**
 * The demo project of `npm start`: created (analytics on) on first start, its
 * id and keys printed and kept in the data directory so the dashboard and the
 * demo page can use them. Not for production data: the keys sit on disk in clear.
 *
 * @example
 * const demo = await ensureDemoProject(postgres, './.sightline', log);
 */
export async function ensureDemoProject(postgres: Postgres, dataDir: string, log: Logger): Promise<DemoProject> {
  const file = path.join(dataDir, FILE_NAME);
  const existing = readDemo(file);
  if (existing && (await findProject(postgres, existing.project_id))) {
    log.info({ project_id: existing.project_id, keys_file: file }, 'demo project');
    return existing;
  }
  const { project, keys } = await createProject(postgres, { displayName: 'Demo project', analyticsEnabled: true });
  const demo: DemoProject = { project_id: project.id, ...keys };
  writeFileSync(file, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  process.stdout.write(
    [
      '',
      '  Demo project created (analytics enabled):',
      `    project id              ${demo.project_id}`,
      `    publishable client key  ${demo.publishable_client_key}`,
      `    secret server key       ${demo.secret_server_key}`,
      `    super secret admin key  ${demo.super_secret_admin_key}`,
      `  (kept in ${file})`,
      '',
    ].join('\n') + '\n',
  );
  return demo;
}

function readDemo(file: string): DemoProject | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DemoProject;
  } catch {
    return undefined;
  }
}
