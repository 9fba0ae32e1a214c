/**
 * Records a real rrweb session in Chromium and saves its events as the replay
 * fixture (`apps/server/src/replay/fixtures/rrweb-recording.json`), used by the
 * replay tests and `bench/replay`.
 *
 * It serves a small page (text, a list, a form, a scrollable area, DOM changes on
 * click), loads @rrweb/record's UMD bundle into it, then clicks, types, moves the
 * mouse and scrolls while recording. The page and the gestures are deterministic;
 * the timestamps and a few ids are not, so a re-run gives an equivalent, not an
 * identical, file.
 *
 * Usage: node --import tsx scripts/record-rrweb-fixture.ts [output.json]
 * Needs Debian's Chromium at /usr/bin/chromium (`CHROMIUM_PATH` overrides the path).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../e2e/support/browser.ts';


const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUT = path.resolve(process.argv[2] ?? path.join(ROOT, 'apps/server/src/replay/fixtures/rrweb-recording.json'));
const BUNDLE = path.join(ROOT, 'node_modules/@rrweb/record/dist/record.umd.min.cjs');
const MAX_BYTES = 300_000;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Acme checkout</title>
  <style>
    body { font-family: sans-serif; margin: 0; color: #222; }
    header { background: #234; color: #fff; padding: 12px 24px; }
    main { display: grid; grid-template-columns: 2fr 1fr; gap: 24px; padding: 24px; }
    .card { border: 1px solid #ccc; border-radius: 6px; padding: 12px; margin-bottom: 12px; }
    .card.added { border-color: #2a7; background: #efe; }
    #log { height: 160px; overflow-y: scroll; border: 1px solid #ddd; font-size: 12px; }
    button { padding: 6px 12px; }
    footer { height: 900px; background: linear-gradient(#fff, #ddd); padding: 24px; }
  </style>
</head>
<body>
  <header><h1>Acme store</h1><nav><a href="#products">Products</a> · <a href="#cart">Cart</a> · <a href="#help">Help</a></nav></header>
  <main>
    <section id="products">
      ${['Blue mug', 'Red kettle', 'Green teapot', 'Tea sampler', 'Milk frother', 'Ceramic cups (4)']
        .map(
          (name, i) => `<div class="card" data-sku="sku-${i}">
        <h3>${name}</h3>
        <p>Hand-made ${name.toLowerCase()} with a lifetime guarantee. Ships in 2–3 days. ${'Lorem ipsum dolor sit amet. '.repeat(2)}</p>
        <button class="add" data-name="${name}">Add to cart</button> <span class="price">€${(9.5 + i * 7).toFixed(2)}</span>
      </div>`,
        )
        .join('\n      ')}
    </section>
    <aside id="cart">
      <h2>Cart (<span id="count">0</span>)</h2>
      <ul id="items"></ul>
      <form id="checkout" onsubmit="event.preventDefault(); document.getElementById('status').textContent = 'Thanks, ' + this.name.value + '!';">
        <label>Name <input name="name" autocomplete="off"></label><br>
        <label>Email <input name="email" type="email"></label><br>
        <label>Password <input name="password" type="password"></label><br>
        <label>Notes <textarea name="notes" rows="3"></textarea></label><br>
        <label><input type="checkbox" name="gift"> Gift wrap</label>
        <select name="shipping"><option>Standard</option><option>Express</option></select><br>
        <button type="submit">Pay</button>
      </form>
      <p id="status"></p>
      <div id="log">${Array.from({ length: 40 }, (_, i) => `<div>log line ${i}: something happened</div>`).join('')}</div>
    </aside>
  </main>
  <footer id="help"><h2>Help</h2><p>Frequently asked questions follow.</p></footer>
  <script src="/rrweb-record.js"></script>
  <script>
    window.__events = [];
    window.__stop = rrwebRecord.record({ emit: (event) => window.__events.push(event) });
    document.querySelectorAll('button.add').forEach((button) => button.addEventListener('click', () => {
      const li = document.createElement('li');
      li.textContent = button.dataset.name;
      document.getElementById('items').appendChild(li);
      document.getElementById('count').textContent = String(document.getElementById('items').children.length);
      button.closest('.card').classList.add('added');
    }));
  </script>
</body>
</html>`;

async function main(): Promise<void> {
  const bundle = readFileSync(BUNDLE);
  const http = createServer((request, response) => {
    if (request.url === '/rrweb-record.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const browser = await launchChromium({ viewport: { width: 1280, height: 800 }, timeout: 120_000 });
  const { context } = browser;
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => (window as unknown as { __events: unknown[] }).__events.length >= 2);
    const pause = (ms: number) => page.waitForTimeout(ms);

    for (const [x, y] of [[200, 200], [400, 260], [600, 320], [500, 420]] as const) {
      await page.mouse.move(x, y, { steps: 8 });
      await pause(120);
    }
    const adds = page.locator('button.add');
    for (const index of [0, 2, 3]) {
      await adds.nth(index).click();
      await pause(300);
    }
    await page.fill('input[name=name]', '');
    await page.type('input[name=name]', 'Ada Lovelace', { delay: 40 });
    await page.type('input[name=email]', 'ada@example.com', { delay: 30 });
    await page.type('input[name=password]', 'hunter2', { delay: 30 });
    await page.type('textarea[name=notes]', 'Please leave it at the door.', { delay: 25 });
    await page.check('input[name=gift]');
    await page.selectOption('select[name=shipping]', 'Express');
    await pause(200);
    await page.locator('#log').evaluate((el) => (el.scrollTop = 400));
    await pause(300);
    for (let y = 200; y <= 1400; y += 300) {
      await page.mouse.wheel(0, 300);
      await pause(150);
    }
    await page.evaluate(() => window.scrollTo(0, 0));
    await pause(200);
    await page.click('#checkout button[type=submit]');
    await page.waitForSelector('#status:has-text("Thanks")');
    await pause(500);

    const events = await page.evaluate(() => {
      const w = window as unknown as { __events: unknown[]; __stop?: () => void };
      w.__stop?.();
      return w.__events;
    });
    const json = `${JSON.stringify(events)}\n`;
    if (Buffer.byteLength(json) > MAX_BYTES) throw new Error(`recording is ${Buffer.byteLength(json)} bytes, over ${MAX_BYTES}`);
    mkdirSync(path.dirname(OUTPUT), { recursive: true });
    writeFileSync(OUTPUT, json);
    const types = new Map<number, number>();
    for (const event of events as { type: number }[]) types.set(event.type, (types.get(event.type) ?? 0) + 1);
    console.log(`wrote ${events.length} events, ${Buffer.byteLength(json)} bytes to ${path.relative(ROOT, OUTPUT)}`);
    console.log(`events by rrweb type: ${JSON.stringify(Object.fromEntries(types))}`);
  } finally {
    await browser.close();
    http.close();
  }
}

await main();
