const MAX_LEVELS = 5;

/**
 * A CSS selector for `element`, at most five levels deep, stopping at the
 * nearest ancestor with an id: `#checkout > div.row:nth-of-type(2) > button.primary`.
 * Classes are capped at two per level to keep generated class soup out.
 *
 * @example
 * selectorOf(document.querySelector('button')!);
 */
export function selectorOf(element: Element): string {
  // The element's own window: the page's in a browser, the test DOM's in tests.
  const css = element.ownerDocument.defaultView!.CSS;
  const escape = (identifier: string) => css.escape(identifier);
  const parts: string[] = [];
  let node: Element | null = element;
  while (node && parts.length < MAX_LEVELS && node.tagName !== 'HTML') {
    if (node.id) {
      parts.unshift(`#${escape(node.id)}`);
      break;
    }
    const tag = node.tagName.toLowerCase();
    let part = tag;
    for (const name of [...node.classList].slice(0, 2)) part += `.${escape(name)}`;
    const parent: Element | null = node.parentElement;
    if (parent) {
      let index = 0;
      let count = 0;
      for (const sibling of parent.children) {
        if (sibling.tagName !== node.tagName) continue;
        count++;
        if (sibling === node) index = count;
      }
      if (count > 1) part += `:nth-of-type(${index})`;
    }
    parts.unshift(part);
    node = parent;
  }
  return parts.join(' > ');
}
