import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { buildSdk } from '../../packages/sdk/scripts/build.ts';
import { launchChromium } from './browser.ts';
import { freePort, startServerProcess, type ServerProcess } from './server-process.ts';
import { eventually, sightlineApi, type E2eProject } from './sightline-api.ts';
import { startTestSite } from './test-site.ts';

export type SdkFixture = Awaited<ReturnType<typeof startSdkFixture>>;

/**
 * Everything an SDK end-to-end test needs: the SDK built, `sightline serve --demo`
 * on the embedded engines, a customer site on another origin, and Chromium.
 *
 * @example
 * const f = await startSdkFixture();
 * const { page, project } = await f.openPage({ anonymous: true });
 * await f.close();
 */
export async function startSdkFixture() {
  await buildSdk();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sightline-sdk-e2e-'));
  const adminSecret = `sdk-e2e-operator-${randomUUID()}`;
  let server: ServerProcess | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let site: Awaited<ReturnType<typeof startTestSite>> | undefined;
  try {
    server = await startServerProcess({ dataDir, port: await freePort(), adminSecret, args: ['--demo'] });
    site = await startTestSite(server.url);
    browser = await launchChromium();
  } catch (error) {
    await browser?.close();
    await site?.close();
    await server?.kill('SIGKILL').catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const api = sightlineApi(server.url, adminSecret);
  const { context } = browser;

  return {
    server,
    site,
    context,
    api,
    dataDir,
    /** A new project and a page of the test site with a tracker for it. */
    async openPage(options: Record<string, unknown> = {}, project?: E2eProject): Promise<{ page: Page; project: E2eProject; url: string }> {
      const target = project ?? (await api.createProject({ analytics: true }));
      const url = site!.page({ projectId: target.projectId, publishableClientKey: target.publishableClientKey, anonymous: true, ...options });
      const page = await context.newPage();
      await page.goto(url);
      return { page, project: target, url };
    },
    /**
     * Waits until the tracker knows whether analytics is on and, when it is, until its
     * anonymous user is signed in (the refresh token is stored): from then on a page
     * that goes away can send with keepalive.
     */
    async ready(page: Page): Promise<void> {
      await page.waitForFunction(
        () => {
          const state = (window as any).tracker?.state;
          if (state?.enabled === undefined) return false;
          const config = (window as any).trackerConfig;
          const id = config?.projectId;
          return !state.enabled || config?.accessToken || Object.keys(localStorage).some((k) => (id ? k === `sightline:${id}:refresh` : k.endsWith(':refresh')));
        },
        undefined,
        { timeout: 15_000 },
      );
    },
    /** Rows of `SELECT …` once `predicate` holds for them. */
    async rowsWhen(project: E2eProject, query: string, predicate: (rows: Record<string, any>[]) => boolean, timeoutMs = 20_000) {
      let rows: Record<string, any>[] = [];
      await eventually(async () => predicate((rows = await api.query(project, query))), timeoutMs, `rows of ${query}`).catch((error) => {
        throw new Error(`${(error as Error).message}\nlast rows: ${JSON.stringify(rows)}`);
      });
      return rows;
    },
    async close() {
      await browser?.close();
      await site?.close();
      await server?.kill('SIGTERM').catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
