import { isUserInput, looksPersonal, NO_CAPTURE, stripUrl, type StripQueryParams } from './privacy.ts';
import { selectorOf } from './selector.ts';

const MAX_TEXT = 200;
/** A click on an icon inside a button is a click on the button. */
const INTERACTIVE = 'a,button,[role=button],[role=link],input,select,textarea,label,summary';
const SKIPPED_TEXT = /^(SCRIPT|STYLE|NOSCRIPT|TEMPLATE)$/;

export type ClickOptions = { maskText: boolean; stripQueryParams: StripQueryParams | undefined };

export type ClickData = {
  tag_name: string;
  text: string | null;
  href: string | null;
  selector: string;
  x: number;
  y: number;
  page_x: number;
  page_y: number;
  viewport_width: number;
  viewport_height: number;
};

/**
 * Listens for clicks in the capture phase (so `stopPropagation` in the app does
 * not hide them) and emits `$click` data. Returns the function that stops it.
 *
 * @example
 * const stop = captureClicks(window, (data) => enqueue('$click', data), { maskText: true, stripQueryParams: undefined });
 */
export function captureClicks(win: Window, emit: (data: ClickData) => void, options: ClickOptions): () => void {
  const onClick = (event: Event) => {
    const data = describeClick(event as MouseEvent, win, options);
    if (data) emit(data);
  };
  win.document.addEventListener('click', onClick, true);
  return () => win.document.removeEventListener('click', onClick, true);
}

/**
 * The `$click` data of one click, or undefined when the element is inside
 * `[data-sightline-no-capture]`.
 *
 * @example
 * describeClick(event, window, { maskText: true, stripQueryParams: undefined })?.selector;
 */
export function describeClick(event: MouseEvent, win: Window, options: ClickOptions): ClickData | undefined {
  const target = event.target as Node | null;
  const clicked = target && target.nodeType === 1 ? (target as Element) : (target?.parentElement ?? null);
  if (!clicked || clicked.closest(NO_CAPTURE)) return undefined;
  const element = clicked.closest(INTERACTIVE) ?? clicked;
  const link = element.closest('a[href]') as HTMLAnchorElement | null;
  return {
    tag_name: element.tagName.toLowerCase(),
    text: textOf(element, options.maskText),
    // The attribute, resolved: an SVG link's `href` property is not a string.
    href: link ? stripUrl(link.getAttribute('href')!, options.stripQueryParams, link.baseURI) : null,
    selector: selectorOf(element),
    x: Math.round(event.clientX),
    y: Math.round(event.clientY),
    page_x: Math.round(event.pageX),
    page_y: Math.round(event.pageY),
    viewport_width: win.innerWidth,
    viewport_height: win.innerHeight,
  };
}

/**
 * Visible text of an element, whitespace collapsed, at most 200 characters,
 * skipping form fields, contenteditable regions and no-capture subtrees; null
 * when there is none or (with `maskText`) it looks personal. Walks text nodes
 * instead of reading `innerText`, which would force a layout on every click.
 */
function textOf(element: Element, maskText: boolean): string | null {
  if (isUserInput(element)) return null;
  let text = '';
  const walk = (node: Node): boolean => {
    for (let child = node.firstChild; child; child = child.nextSibling) {
      if (child.nodeType === 3) {
        text += child.nodeValue;
        if (text.length > MAX_TEXT * 2) return false;
      } else if (child.nodeType === 1) {
        const el = child as Element;
        if (SKIPPED_TEXT.test(el.tagName) || isUserInput(el) || el.matches(NO_CAPTURE)) continue;
        if (!walk(el)) return false;
        text += ' ';
      }
    }
    return true;
  };
  walk(element);
  text = text.replace(/\s+/g, ' ').trim().slice(0, MAX_TEXT);
  if (!text || (maskText && looksPersonal(text))) return null;
  return text;
}
