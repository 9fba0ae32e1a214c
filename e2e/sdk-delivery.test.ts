import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import type { Page, Route } from 'playwright-core';
import { chromiumMissing } from './support/browser.ts';
import { REPO_ROOT } from './support/server-process.ts';
import { eventually, type E2eProject } from './support/sightline-api.ts';
import { startSdkFixture, type SdkFixture } from './support/sdk-fixture.ts';

/**
 * The browser SDK's delivery in Debian Chromium against the real server: what
 * a closing tab, a navigation, a failing server, an offline browser and a
 * reload do to events, and a recorded replay read back and rebuilt by rrweb.
 */
const skip = chromiumMissing();
if (skip) console.log(`# skipping SDK delivery tests: ${skip}`);

const track = (page: Page, name: string, count: number) =>
  page.evaluate(([n, c]) => {
    for (let i = 0; i < c; i++) (window as any).tracker.track(n, { i });
  }, [name, count] as const);

describe('browser SDK: delivery', { skip, timeout: 240_000 }, () => {
  let f: SdkFixture;
  let batchUrl: string;
  before(async () => {
    f = await startSdkFixture();
    batchUrl = `${f.server.url}/api/v1/analytics/events/batch`;
  });
  after(() => f?.close());

  const countOf = async (project: E2eProject, name: string) =>
    Number((await f.api.query(project, `SELECT count() AS n FROM events WHERE event_type = '${name}'`))[0]!.n);
  const exactly = (project: E2eProject, name: string, n: number) =>
    f.rowsWhen(project, `SELECT count() AS n FROM events WHERE event_type = '${name}'`, (r) => Number(r[0]!.n) >= n);
  /** The batch id of every event batch the page posts from now on, in order. */
  const batchIdsPosted = (page: Page) => {
    const ids: string[] = [];
    page.on('request', (request) => {
      if (request.url() === batchUrl && request.method() === 'POST') ids.push(request.postDataJSON().batch_id);
    });
    return ids;
  };

  test('closing the tab delivers what was buffered (keepalive on pagehide)', async () => {
    const { page, project } = await f.openPage();
    await f.ready(page);
    await track(page, 'before-close', 7);
    await page.close();
    await exactly(project, 'before-close', 7);
    assert.equal(await countOf(project, 'before-close'), 7);
  });

  test('navigating away delivers what was buffered', async () => {
    const { page, project } = await f.openPage();
    await f.ready(page);
    await track(page, 'before-navigation', 5);
    await page.click('#buy');
    await page.goto('about:blank');
    await exactly(project, 'before-navigation', 5);
    const clicks = await f.api.query(project, `SELECT count() AS n FROM events WHERE event_type = '$click'`);
    assert.equal(Number(clicks[0]!.n), 1);
    await page.close();
  });

  test('a server answering 503 twice, then 200: retried with the same batch id, stored once', async () => {
    const { page, project } = await f.openPage();
    await f.ready(page);
    const attempts: string[] = [];
    await page.route(batchUrl, async (route: Route) => {
      const body = route.request().postDataJSON();
      if (!body.events.some((e: any) => e.event_type === 'flaky')) return route.continue();
      attempts.push(body.batch_id);
      if (attempts.length <= 2) {
        return route.fulfill({ status: 503, headers: { 'access-control-allow-origin': '*' }, contentType: 'application/json', body: '{}' });
      }
      return route.continue();
    });
    await track(page, 'flaky', 4);
    await page.evaluate(() => (window as any).tracker.flush());
    await exactly(project, 'flaky', 4);
    await page.waitForTimeout(500);
    assert.equal(attempts.length, 3);
    assert.equal(new Set(attempts).size, 1, 'every retry carries the same batch_id');
    assert.equal(await countOf(project, 'flaky'), 4);
    await page.close();
  });

  test('offline: nothing is attempted; back online: everything arrives once', async () => {
    const { page, project } = await f.openPage();
    await f.ready(page);
    const attempts = batchIdsPosted(page);
    await f.context.setOffline(true);
    try {
      await track(page, 'while-offline', 6);
      await page.evaluate(() => (window as any).tracker.flush());
      await page.waitForTimeout(1_500);
      assert.deepEqual(attempts, [], 'no request while the browser is offline');
    } finally {
      await f.context.setOffline(false);
    }
    await exactly(project, 'while-offline', 6);
    assert.equal(await countOf(project, 'while-offline'), 6);
    await page.close();
  });

  test('a reload with unsent events: they survive in the persisted queue and arrive once, under their batch id', async () => {
    const { page, project } = await f.openPage();
    await f.ready(page);
    const failed: string[] = [];
    const blocked = async (route: Route) => {
      const body = route.request().postDataJSON();
      if (body.events.some((e: any) => e.event_type === 'survivor')) failed.push(body.batch_id);
      return route.abort('internetdisconnected');
    };
    await page.route(batchUrl, blocked);
    await track(page, 'survivor', 9);
    await page.evaluate(() => (window as any).tracker.flush());
    await eventually(async () => failed.length > 0, 10_000, 'a failed attempt');
    await page.reload(); // pagehide: persisted (its keepalive send is blocked too)
    const persisted = failed[0]!;
    const delivered = batchIdsPosted(page);
    await page.unroute(batchUrl, blocked);
    await exactly(project, 'survivor', 9);
    await page.waitForTimeout(500);
    assert.equal(await countOf(project, 'survivor'), 9);
    assert.ok(failed.every((id) => id === persisted), 'one batch, one id, before and after the reload');
    assert.ok(delivered.includes(persisted), 'the reloaded page sent the persisted batch');
    const leftovers = await page.evaluate((id) => Object.keys(localStorage).filter((k) => k.startsWith(`sightline:${id}:queue:`)), project.projectId);
    assert.deepEqual(leftovers, [], 'the persisted queue was taken over by the new page');
    await page.close();
  });

  test('sign-out clears every buffer: what was captured before it is never sent, as anyone', async () => {
    const { page, project } = await f.openPage();
    await f.ready(page);
    const blocked = (route: Route) => route.abort('internetdisconnected');
    await page.route(batchUrl, blocked);
    await track(page, 'before-signout', 3);
    await page.evaluate(() => (window as any).tracker.flush());
    await page.waitForTimeout(300);
    await page.evaluate(() => (window as any).tracker.signOut());
    const kept = await page.evaluate(
      (id) => Object.keys(localStorage).filter((k) => k.startsWith(`sightline:${id}:`) && !k.endsWith(':browser-session')),
      project.projectId,
    );
    assert.deepEqual(kept, [], 'no persisted queue, no anonymous refresh token');
    await page.unroute(batchUrl, blocked);
    await track(page, 'after-signout', 2);
    await page.evaluate(() => (window as any).tracker.flush());
    const after = await f.rowsWhen(project, `SELECT user_id FROM events WHERE event_type = 'after-signout'`, (r) => r.length >= 2);
    await page.close(); // a pagehide send would carry anything still buffered
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(await countOf(project, 'before-signout'), 0);
    assert.ok(after[0]!.user_id, 'the next events belong to a new anonymous user');
  });

  test("after sign-out the next user's replay is a new one that opens with a full snapshot", async () => {
    const { page, project } = await f.openPage({ replays: true });
    await f.ready(page);
    await page.waitForFunction(() => (window as any).__sightlineRecorder !== undefined, undefined, { timeout: 15_000 });
    await page.click('#buy');
    await page.evaluate(() => (window as any).tracker.flush());
    const replayOf = async (n: number) =>
      eventually(async () => {
        const list = await f.api.get(project, '/internal/session-replays');
        return list.items.length >= n ? list.items : undefined;
      }, 20_000, `${n} replay(s)`);
    const [first] = await replayOf(1);
    await page.evaluate(() => (window as any).tracker.signOut());
    await page.click('#buy');
    await page.evaluate(() => (window as any).tracker.flush());
    const items = await replayOf(2);
    const second = items.find((item: any) => item.id !== first.id);
    assert.notEqual(second.project_user.id, first.project_user.id, 'another (anonymous) user');
    const chunksOf = async (id: string) => (await f.api.get(project, `/internal/session-replays/${id}/events`)) as any;
    const [before, after] = [await chunksOf(first.id), await chunksOf(second.id)];
    assert.notEqual(after.chunks[0].browser_session_id, before.chunks[0].browser_session_id, 'a new browser session');
    const events: any[] = after.chunk_events.flatMap((c: any) => c.events);
    // rrweb's full snapshot is a Meta event (4) followed by the FullSnapshot (2): the replay can be rebuilt from its start.
    assert.deepEqual(events.slice(0, 2).map((e) => e.type), [4, 2]);
    await page.close();
  });

  test('a recorded replay is listed by the replay API, masks inputs, and @rrweb/replay rebuilds the page', async () => {
    const { page, project } = await f.openPage({ replays: true });
    await f.ready(page);
    await page.waitForFunction(() => (window as any).__sightlineRecorder !== undefined, undefined, { timeout: 15_000 });
    await page.fill('#secret-input', 'typed secret');
    await page.click('#buy');
    await page.click('#to-pricing');
    await page.waitForTimeout(300);
    await page.evaluate(() => (window as any).tracker.flush());
    const listed = await eventually(async () => {
      const list = await f.api.get(project, '/internal/session-replays');
      return list.items.length > 0 ? list : undefined;
    }, 20_000, 'a replay');
    assert.equal(listed.items.length, 1);
    const replayId: string = listed.items[0].id;
    const read = await f.api.get(project, `/internal/session-replays/${replayId}/events`);
    const events: any[] = read.chunk_events.flatMap((c: any) => c.events);
    assert.ok(events.some((e) => e.type === 2), 'a full snapshot');
    const text = JSON.stringify(events);
    for (const secret of ['typed secret', 'hunter2', 'not captured', 'edited text']) assert.ok(!text.includes(secret), `${secret} is in the replay`);

    // Tracker and recorder share the tab's segment id: the page's clicks belong to this replay.
    const segment: string = read.chunks[0].session_replay_segment_id;
    assert.ok(read.chunks.every((c: any) => c.session_replay_segment_id === segment));
    const linked = await f.rowsWhen(
      project,
      `SELECT count() AS n FROM events WHERE event_type = '$click' AND session_replay_segment_id = '${segment}'`,
      (r) => Number(r[0]!.n) >= 2,
    );
    assert.equal(Number(linked[0]!.n), 2);

    const player = await build({
      stdin: { contents: "import { Replayer } from '@rrweb/replay'; window.Replayer = Replayer;", resolveDir: REPO_ROOT },
      bundle: true,
      write: false,
      format: 'iife',
      logLevel: 'silent',
    });
    const viewer = await f.context.newPage();
    await viewer.setContent('<div id="root"></div>');
    await viewer.addScriptTag({ content: player.outputFiles[0]!.text });
    const rebuilt = await viewer.evaluate((recorded) => {
      const replayer = new (window as any).Replayer(recorded, { root: document.getElementById('root'), showWarning: false });
      replayer.pause(recorded.at(-1).timestamp - recorded[0].timestamp);
      const doc: Document = replayer.iframe.contentDocument;
      return { buy: doc.querySelector('#buy')?.textContent?.replace(/\s+/g, ' ').trim(), input: (doc.querySelector('#secret-input') as HTMLInputElement | null)?.value };
    }, events);
    assert.equal(rebuilt.buy, 'Buy now');
    assert.notEqual(rebuilt.input, 'typed secret');
    await viewer.close();
    await page.close();
  });
});
