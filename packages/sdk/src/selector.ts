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
  const parts: string[] = [];
  let node: Element | null = element;
  while (node && parts.length < MAX_LEVELS && node.tagName !== 'HTML') {
    if (node.id) {
      parts.unshift(`#${escape(node.id)}`);
      break;
    }
    const tag = node.tagName.toLowerCase();
    let part = tag;
    for (const name of Array.from(node.classList).slice(0, 2)) part += `.${escape(name)}`;
    const parent: Element | null = node.parentElement;
    if (parent) {
      let index = 0;
      let count = 0;
      for (const sibling of Array.from(parent.children)) {
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

/** `CSS.escape`, or (jsdom, older test DOMs) the same for ASCII: a leading digit needs a code-point escape. */
function escape(identifier: string): string {
  return typeof CSS !== 'undefined' && CSS.escape
    ? CSS.escape(identifier)
    : identifier.replace(/^\d|[^\w-]/g, (c) => (c < ':' && c >= '0' ? `\\3${c} ` : `\\${c}`));
}
