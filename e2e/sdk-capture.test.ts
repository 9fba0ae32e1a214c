import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chromiumMissing } from './support/browser.ts';
import { startSdkFixture, type SdkFixture } from './support/sdk-fixture.ts';

/**
 * The browser SDK in Debian Chromium against `sightline serve` on the embedded
 * engines, from a page on another origin: what it captures, what it never
 * captures, and that it stays silent when analytics is off.
 */
const skip = chromiumMissing();
if (skip) console.log(`# skipping SDK capture tests: ${skip}`);

describe('browser SDK: capture', { skip, timeout: 180_000 }, () => {
  let f: SdkFixture;
  before(async () => {
    f = await startSdkFixture();
  });
  after(() => f?.close());

  test('page views for the initial load, pushState, replaceState and popstate; an unchanged URL is skipped', async () => {
    const { page, project, url } = await f.openPage();
    await f.ready(page);
    await page.click('#to-pricing');
    await page.evaluate(() => history.replaceState({}, '', 'replaced?code=secret&x=1'));
    await page.evaluate(() => history.replaceState({}, '', location.href)); // same URL: no page view
    await page.evaluate(() => history.back());
    await page.waitForFunction((start) => location.href === start, url);
    await page.evaluate(() => (window as any).tracker.flush());
    const rows = await f.rowsWhen(
      project,
      `SELECT toString(data.entry_type) AS entry, toString(data.url) AS url, toString(data.path) AS path,
              toString(data.referrer) AS referrer, toString(data.title) AS title,
              toString(data.viewport_width) AS vw, toString(data.screen_width) AS sw
       FROM events WHERE event_type = '$page-view' ORDER BY event_at`,
      (r) => r.length >= 4,
    );
    assert.deepEqual(rows.map((r) => r.entry), ['initial', 'push', 'replace', 'pop']);
    const base = new URL(url);
    assert.equal(rows[0]!.url, url);
    assert.equal(rows[1]!.path, `${base.pathname}pricing`);
    assert.equal(rows[1]!.referrer, url, 'a history navigation is referred by the previous URL');
    assert.equal(rows[2]!.url, `${base.origin}${base.pathname}replaced?code=&x=1`, 'sensitive query values are removed');
    assert.equal(rows[0]!.title, 'Test shop');
    assert.ok(Number(rows[0]!.vw) > 0 && Number(rows[0]!.sw) > 0);
    await page.close();
  });

  test('clicks carry tag, trimmed text, nearest link, a short selector, coordinates and the viewport', async () => {
    const { page, project } = await f.openPage();
    await f.ready(page);
    await page.click('#buy span');
    await page.click('li:nth-of-type(2)');
    await page.click('#third');
    await page.evaluate(() => (window as any).tracker.flush());
    const rows = await f.rowsWhen(
      project,
      `SELECT toJSONString(data) AS data FROM events WHERE event_type = '$click' ORDER BY event_at`,
      (r) => r.length >= 3,
    );
    const [buy, item, link] = rows.map((r) => JSON.parse(r.data));
    assert.equal(buy.tag_name, 'button', 'a click on a child of a button is the button');
    assert.equal(buy.text, 'Buy now');
    assert.equal(buy.selector, '#buy');
    assert.equal(buy.href ?? null, null, 'no link (JSON storage drops null values)');
    for (const key of ['x', 'y', 'page_x', 'page_y', 'viewport_width', 'viewport_height']) assert.equal(typeof buy[key], 'number', key);
    assert.ok(buy.viewport_width > 0);
    assert.equal(item.selector, 'body > main > ul > li:nth-of-type(2)');
    assert.equal(item.text, 'two');
    assert.equal(link.tag_name, 'a');
    assert.match(link.href, /#third$/);
    await page.close();
  });

  test('nothing typed is captured: inputs, password, textarea, contenteditable, no-capture areas, emails and card numbers', async () => {
    const { page, project } = await f.openPage();
    await f.ready(page);
    await page.fill('#secret-input', 'typed secret');
    for (const selector of ['#secret-input', '#password', '#notes', '#editor', '#hidden-button', '#email-button', '#card-button']) {
      await page.click(selector);
    }
    await page.evaluate(() => (window as any).tracker.flush());
    const rows = await f.rowsWhen(
      project,
      `SELECT data.selector AS selector, data.text AS text, toJSONString(data) AS data FROM events WHERE event_type = '$click' ORDER BY event_at`,
      (r) => r.length >= 6,
    );
    assert.deepEqual(
      rows.map((r) => r.selector),
      ['#secret-input', '#password', '#notes', '#editor', '#email-button', '#card-button'],
      'the click inside [data-sightline-no-capture] is not recorded',
    );
    for (const row of rows) assert.equal(row.text, null, `${row.selector} has no text`);
    const everything = JSON.stringify(rows);
    for (const secret of ['typed secret', 'hunter2', 'private notes', 'edited text', 'jane.doe', '4111']) {
      assert.ok(!everything.includes(secret), `${secret} leaked`);
    }
    await page.close();
  });

  test("the app's own access token: events belong to its user; beforeSend changes and drops events", async () => {
    const project = await f.api.createProject({ analytics: true });
    const { userId, accessToken } = await f.api.signIn(project);
    const { page } = await f.openPage(
      {
        anonymous: false,
        accessToken,
        beforeSendBody: "if (event.event_type === 'drop-me') return null; event.data.tagged = true; return event;",
      },
      project,
    );
    await f.ready(page);
    await page.evaluate(() => {
      (window as any).tracker.track('keep-me', { n: 1 });
      (window as any).tracker.track('drop-me', { n: 2 });
      (window as any).tracker.flush();
    });
    const rows = await f.rowsWhen(
      project,
      `SELECT event_type, user_id, toString(data.tagged) AS tagged FROM events WHERE event_type IN ('keep-me', 'drop-me', '$page-view')`,
      (r) => r.some((x) => x.event_type === 'keep-me'),
    );
    await page.waitForTimeout(300);
    assert.ok(rows.every((r) => r.user_id === userId), 'every event carries the app user');
    assert.ok(rows.every((r) => r.tagged === 'true'));
    assert.equal(rows.filter((r) => r.event_type === 'drop-me').length, 0);
    const anonymousSignUps = await page.evaluate((id) => Object.keys(localStorage).filter((k) => k === `sightline:${id}:refresh`).length, project.projectId);
    assert.equal(anonymousSignUps, 0, 'no anonymous user when the app supplies tokens');
    await page.close();
  });

  test('a malformed event is dropped alone: bad names, non-object or cyclic data never cost the rest of the batch', async () => {
    const { page, project } = await f.openPage();
    await f.ready(page);
    const outcome = await page.evaluate(() => {
      const tracker = (window as any).tracker;
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      try {
        tracker.track('good-before', { n: 1 });
        tracker.track('Signed Up', { n: 2 }); // a space: not a valid custom name
        tracker.track('$custom', {}); // the $ prefix is reserved
        tracker.track('not-an-object', [1, 2] as unknown as Record<string, unknown>);
        tracker.track('cyclic', cyclic);
        tracker.track('big-int', { n: BigInt(1) } as unknown as Record<string, unknown>);
        tracker.track('good-after', { n: 3 });
        tracker.flush();
        return { threw: false, dropped: tracker.stats.dropped };
      } catch (error) {
        return { threw: String(error), dropped: -1 };
      }
    });
    assert.deepEqual(outcome, { threw: false, dropped: 5 });
    const rows = await f.rowsWhen(
      project,
      `SELECT event_type FROM events WHERE event_type NOT IN ('$page-view', '$click', '$token-refresh') ORDER BY event_at`,
      (r) => r.length >= 2,
    );
    assert.deepEqual(rows.map((r) => r.event_type), ['good-before', 'good-after']);
    await page.close();
  });

  test('analytics off: one question to the server, then no request at all', async () => {
    const project = await f.api.createProject({ analytics: false });
    const apiRequests: string[] = [];
    const page = await f.context.newPage();
    page.on('request', (request) => {
      if (request.url().startsWith(`${f.server.url}/api/`)) apiRequests.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    await page.goto(f.site.page({ projectId: project.projectId, publishableClientKey: project.publishableClientKey, anonymous: true, replays: true }));
    await f.ready(page);
    assert.equal(await page.evaluate(() => (window as any).tracker.state.enabled), false);
    await page.click('#buy');
    await page.click('#to-pricing');
    await page.evaluate(() => {
      (window as any).tracker.track('ignored', {});
      (window as any).tracker.flush();
    });
    await page.waitForTimeout(1_000);
    await page.close();
    assert.deepEqual(apiRequests, ['GET /api/v1/analytics/client-config']);
  });

  test('stop() restores history and removes every listener', async () => {
    const { page } = await f.openPage();
    await f.ready(page);
    const restored = await page.evaluate(() => {
      (window as any).tracker.stop();
      return history.pushState === History.prototype.pushState && !Object.prototype.hasOwnProperty.call(history, 'replaceState');
    });
    assert.ok(restored);
    await page.close();
  });

  test('capturing a click costs under 0.5 ms of main-thread time', async () => {
    const { page } = await f.openPage();
    await f.ready(page);
    // The same synthetic clicks with the tracker listening, then after stop(): the difference is the tracker's cost.
    const measure = () =>
      page.evaluate(() => {
        const target = document.querySelector('#buy span')!;
        const start = performance.now();
        for (let i = 0; i < 400; i++) target.dispatchEvent(new MouseEvent('click', { bubbles: true, clientX: 10, clientY: 10 }));
        return (performance.now() - start) / 400;
      });
    await measure(); // warm-up (JIT)
    const withTracker = await measure();
    await page.evaluate(() => (window as any).tracker.stop());
    const without = await measure();
    const cost = withTracker - without;
    console.log(`# click capture cost: ${cost.toFixed(4)} ms per click (${withTracker.toFixed(4)} with, ${without.toFixed(4)} without)`);
    assert.ok(cost < 0.5, `a click costs ${cost} ms`);
    await page.close();
  });

  test('the demo page of `npm start` loads the IIFE build and records into the demo project', async () => {
    const demo = JSON.parse((await import('node:fs')).readFileSync(`${f.dataDir}/demo-project.json`, 'utf8'));
    const project = { projectId: demo.project_id, publishableClientKey: demo.publishable_client_key, adminKey: demo.super_secret_admin_key };
    const page = await f.context.newPage();
    await page.goto(`${f.server.url}/demo`);
    await f.ready(page);
    await page.click('#buy');
    await page.click('a[data-route=pricing]');
    await page.click('#custom');
    await page.close(); // delivered on the way out
    const rows = await f.rowsWhen(
      project,
      `SELECT event_type, data.path AS path FROM events WHERE event_type IN ('$page-view', '$click', 'demo-button') ORDER BY event_at`,
      (r) => r.some((x) => x.event_type === 'demo-button'),
    );
    assert.ok(rows.some((r) => r.event_type === '$page-view' && r.path === '/demo/pricing'));
    assert.ok(rows.some((r) => r.event_type === '$click'));
  });
});
