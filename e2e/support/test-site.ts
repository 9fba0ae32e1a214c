import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A customer's website on another origin (`localhost` vs Sightline's `127.0.0.1`),
 * so every SDK request is cross-origin as in production. Each registered page
 * embeds its own tracker options and loads the SDK from Sightline's `/sdk/`.
 *
 * @example
 * const site = await startTestSite(server.url);
 * const url = site.page({ projectId, publishableClientKey, anonymous: true });
 */
export async function startTestSite(sightlineUrl: string) {
  const configs = new Map<string, Record<string, unknown>>();
  const server: Server = createServer((request, response) => {
    const match = /^\/site\/([^/?#]+)/.exec(request.url ?? '');
    const config = match ? configs.get(match[1]!) : undefined;
    if (!config) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    response.end(pageHtml(`/site/${match![1]}/`, sightlineUrl, config));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://localhost:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    /** Registers tracker options; returns the page's URL. */
    page(options: Record<string, unknown>): string {
      const id = randomUUID();
      configs.set(id, options);
      return `${origin}/site/${id}/`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function pageHtml(base: string, sightlineUrl: string, options: Record<string, unknown>): string {
  const config = JSON.stringify({ ...options, baseUrl: sightlineUrl }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Test shop</title></head>
<body>
  <nav id="nav">
    <a id="to-pricing" href="${base}pricing">Pricing</a>
    <a id="to-docs" href="${base}docs?token=abc123&lang=en">Docs</a>
    <a id="external" href="https://example.com/?code=xyz">Elsewhere</a>
  </nav>
  <main>
    <div class="card"><button id="buy" class="primary big">  Buy
      <span>now</span> </button></div>
    <button id="email-button">write to jane.doe@example.com</button>
    <button id="card-button">pay 4111 1111 1111 1111</button>
    <input id="secret-input" value="typed secret">
    <input id="password" type="password" value="hunter2">
    <textarea id="notes">private notes</textarea>
    <div id="editor" contenteditable="true">edited text</div>
    <div data-sightline-no-capture><button id="hidden-button">not captured</button></div>
    <ul><li>one</li><li>two</li><li><a id="third" href="#third">three</a></li></ul>
  </main>
  <script src="${sightlineUrl}/sdk/sightline.iife.js"></script>
  <script>
    window.trackerConfig = ${config};
    // Functions cannot travel in JSON: the test passes a token and a beforeSend body instead.
    const { accessToken, beforeSendBody, ...options } = window.trackerConfig;
    if (accessToken) options.getAccessToken = async () => accessToken;
    if (beforeSendBody) options.beforeSend = new Function('event', beforeSendBody);
    window.tracker = Sightline.createTracker(options);
    document.querySelectorAll('#nav a[href^="/"]').forEach((a) => a.addEventListener('click', (e) => {
      e.preventDefault();
      history.pushState({}, '', a.getAttribute('href'));
    }));
  </script>
</body></html>`;
}
