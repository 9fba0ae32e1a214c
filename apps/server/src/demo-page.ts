import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoProject } from './demo-project.ts';
import type { StaticAsset } from './http/app.ts';

/** Where `npm run sdk:build` writes the browser SDK. */
export const SDK_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../packages/sdk/dist');

const SDK_FILES = ['sightline.iife.js', 'sightline-recorder.iife.js'];

/**
 * The browser SDK's script builds at `/sdk/…`, so a page can add the tracker
 * with one script tag pointing at its Sightline; 404 until the SDK is built.
 *
 * @example
 * buildApp({ ..., assets: sdkAssets(SDK_DIST) });
 */
export function sdkAssets(dir: string): StaticAsset[] {
  return SDK_FILES.map((file) => ({
    url: `/sdk/${file}`,
    contentType: 'text/javascript; charset=utf-8',
    maxAgeSeconds: 300,
    body: () => readOrUndefined(path.join(dir, file)),
  }));
}

/**
 * `GET /demo`: a small single-page app that loads the IIFE build against the demo
 * project, so a newcomer can click around and then see the events with `sightline query`.
 *
 * @example
 * buildApp({ ..., assets: [...sdkAssets(SDK_DIST), ...demoPageAssets(demo)] });
 */
export function demoPageAssets(demo: DemoProject): StaticAsset[] {
  const html = demoHtml(demo);
  // The demo's routes are client-side; a reload of /demo/pricing gets the same page.
  return ['/demo', '/demo/*'].map((url) => ({ url, contentType: 'text/html; charset=utf-8', body: () => html }));
}

function readOrUndefined(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function demoHtml(demo: DemoProject): string {
  // Inside <script>: no `<` may survive, or `</script>` in a value would end the element.
  const config = JSON.stringify({ projectId: demo.project_id, publishableClientKey: demo.publishable_client_key }).replace(/</g, '\\u003c');
  const query = `npx sightline query --project ${demo.project_id} "SELECT event_type, data.path, data.text, event_at FROM events ORDER BY event_at DESC LIMIT 20"`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sightline demo</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1d2433; }
  header { display: flex; gap: 1rem; padding: 1rem 2rem; background: #1d2433; }
  header a { color: #fff; text-decoration: none; }
  main { padding: 1rem 2rem; max-width: 48rem; }
  button { font: inherit; padding: .4rem .9rem; margin: .2rem 0; cursor: pointer; }
  input, textarea { font: inherit; display: block; margin: .3rem 0 .8rem; padding: .3rem; width: 20rem; }
  code { background: #eef1f6; padding: .1rem .3rem; word-break: break-all; }
  .private { border: 1px dashed #b33; padding: .5rem 1rem; }
</style>
</head>
<body>
<header>
  <a href="/demo" data-route="home">Home</a>
  <a href="/demo/pricing" data-route="pricing">Pricing</a>
  <a href="/demo/docs?token=secret-value" data-route="docs">Docs</a>
</header>
<main>
  <h1 id="title">Welcome</h1>
  <p>Every page change above is a <code>$page-view</code>, every click a <code>$click</code>.
     This session is also recorded as a replay.</p>
  <button id="buy" class="primary">Buy the pro plan</button>
  <button id="custom">Send a custom event</button>
  <form onsubmit="event.preventDefault()">
    <label>Email <input type="email" name="email" placeholder="you@example.com"></label>
    <label>Password <input type="password" name="password"></label>
    <label>Notes <textarea name="notes">typed text is never captured</textarea></label>
  </form>
  <div class="private" data-sightline-no-capture>
    <p>Clicks in here are ignored and this box is blocked in replays.</p>
    <button>Private button</button>
  </div>
  <p>Then look at what arrived:</p>
  <p><code>${escapeHtml(query)}</code></p>
</main>
<script src="/sdk/sightline.iife.js"></script>
<script>
  const config = ${config};
  // On window so you can try tracker.track('my-event', { any: 'data' }) from the console.
  const tracker = window.tracker = Sightline.createTracker({ ...config, baseUrl: location.origin, anonymous: true, replays: true });
  const titles = { home: 'Welcome', pricing: 'Pricing', docs: 'Documentation' };
  const show = (route) => { document.getElementById('title').textContent = titles[route] || 'Welcome'; document.title = 'Sightline demo - ' + (titles[route] || 'Welcome'); };
  document.querySelectorAll('[data-route]').forEach((link) => link.addEventListener('click', (event) => {
    event.preventDefault();
    show(link.dataset.route);
    history.pushState({ route: link.dataset.route }, '', link.getAttribute('href'));
  }));
  addEventListener('popstate', (event) => show(event.state && event.state.route));
  document.getElementById('custom').addEventListener('click', () => tracker.track('demo-button', { plan: 'pro' }));
</script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
