/**
 * Realistic browser analytics events for the ingestion benchmark: the
 * `$page-view` and `$click` shapes the SDK sends, from a seeded PRNG so that
 * every run posts the same kind of data.
 */
import type { EventRow } from '../../apps/server/src/storage/clickhouse/events.ts';

export type BrowserEvent = { event_type: '$page-view' | '$click'; event_at_ms: number; data: Record<string, unknown> };

/** One row of `analytics_internal.events` exactly as the group-commit writer serialises it. */
export type RawEventRow = EventRow & { batch_id: string | null };

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTS = ['https://shop.example.com', 'https://app.example.io', 'https://docs.example.org'];
const SECTIONS = ['products', 'blog', 'docs', 'account', 'checkout', 'pricing', 'search', 'settings'];
const SLUGS = [
  'getting-started', 'running-shoes-x2', 'winter-sale', 'how-we-scaled-clickhouse', 'api-reference',
  'billing', 'team-members', 'order-12345', 'wireless-headphones', 'faq', 'changelog', 'integrations',
];
const REFERRERS = ['', 'https://www.google.com/', 'https://news.ycombinator.com/', 'https://twitter.com/', 'https://duckduckgo.com/'];
const TITLES = ['Home', 'Pricing – Example', 'Docs · Getting started', 'Your account', 'Checkout', 'Search results', 'Blog'];
const VIEWPORTS: [number, number][] = [[1440, 900], [1920, 1080], [390, 844], [1280, 720], [1536, 864], [414, 896]];
const TAGS = ['BUTTON', 'A', 'DIV', 'SPAN', 'INPUT', 'IMG', 'LI'];
const TEXTS = ['Add to cart', 'Sign in', 'Continue', 'Learn more', 'Buy now', 'Next', 'Subscribe', 'Close', ''];

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const int = (random: () => number, max: number) => Math.floor(random() * max);

function pagePath(random: () => number): string {
  const section = pick(random, SECTIONS);
  return random() < 0.15 ? '/' : `/${section}/${pick(random, SLUGS)}${random() < 0.2 ? `?ref=${int(random, 1000)}` : ''}`;
}

/**
 * A batch of `count` events (about 30 % page views, 70 % clicks) ending at `endMs`,
 * spread over the preceding ~10 seconds, as one browser tab would collect them.
 */
export function browserEvents(random: () => number, count: number, endMs: number): BrowserEvent[] {
  const host = pick(random, HOSTS);
  const [vw, vh] = pick(random, VIEWPORTS);
  let path = pagePath(random);
  let at = endMs - 10_000;
  const events: BrowserEvent[] = [];
  for (let i = 0; i < count; i++) {
    at += int(random, 400);
    if (i === 0 || random() < 0.3) {
      const referrer = i === 0 ? pick(random, REFERRERS) : `${host}${path}`;
      path = pagePath(random);
      events.push({
        event_type: '$page-view',
        event_at_ms: at,
        data: {
          url: `${host}${path}`,
          path,
          referrer,
          title: pick(random, TITLES),
          entry_type: i === 0 ? 'initial' : pick(random, ['push', 'pop', 'replace']),
          viewport_width: vw,
          viewport_height: vh,
          screen_width: vw,
          screen_height: vh + 80,
        },
      });
    } else {
      const tag = pick(random, TAGS);
      const x = int(random, vw);
      const y = int(random, vh);
      const scroll = int(random, 3000);
      events.push({
        event_type: '$click',
        event_at_ms: at,
        data: {
          tag_name: tag,
          text: tag === 'IMG' || tag === 'INPUT' ? '' : pick(random, TEXTS),
          href: tag === 'A' ? `${host}${pagePath(random)}` : null,
          selector: `main > section:nth-of-type(${1 + int(random, 6)}) > div.card > ${tag.toLowerCase()}${random() < 0.5 ? '.btn-primary' : ''}`,
          x,
          y,
          page_x: x,
          page_y: y + scroll,
          viewport_width: vw,
          viewport_height: vh,
          url: `${host}${path}`,
          path,
        },
      });
    }
  }
  return events;
}

/** A random UUID v4 (crypto.randomUUID is v4 and fast). */
export const uuid = (): string => globalThis.crypto.randomUUID();
