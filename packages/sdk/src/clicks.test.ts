import assert from 'node:assert/strict';
import { after, beforeEach, describe, test } from 'node:test';
import { Window } from 'happy-dom';
import { captureClicks, describeClick, type ClickData, type ClickOptions } from './clicks.ts';
import { selectorOf } from './selector.ts';

describe('clicks', () => {
  const window = new Window({ url: 'https://shop.example/a', width: 800, height: 600 });
  after(() => window.happyDOM.close());
  const win = window as unknown as globalThis.Window;
  const document = win.document;
  const masked: ClickOptions = { maskText: true, stripQueryParams: undefined };
  beforeEach(() => void (document.body.innerHTML = ''));

  const render = (html: string) => void (document.body.innerHTML = html);
  const $ = (selector: string) => document.querySelector(selector)!;
  /** describeClick for a click on `target` (happy-dom does not compute pageX, so the event is plain). */
  const click = (target: Node, options: ClickOptions = masked, at = { clientX: 10.4, clientY: 20.6, pageX: 10.4, pageY: 1_220.6 }) =>
    describeClick({ target, ...at } as unknown as MouseEvent, win, options);

  test('a click on an icon inside a button is a click on the button', () => {
    render('<div id="cart"><button class="primary"><svg></svg><span class="icon">★</span> Buy now</button></div>');
    const data = click($('span.icon'))!;
    assert.equal(data.tag_name, 'button');
    assert.equal(data.text, '★ Buy now');
    assert.equal(data.selector, selectorOf($('button')));
    assert.equal(data.selector, '#cart > button.primary');
  });

  test('position and viewport', () => {
    render('<button>Go</button>');
    const data = click($('button'))!;
    assert.deepEqual(
      { x: data.x, y: data.y, page_x: data.page_x, page_y: data.page_y, w: data.viewport_width, h: data.viewport_height },
      { x: 10, y: 21, page_x: 10, page_y: 1_221, w: 800, h: 600 },
    );
  });

  test('a text node target counts as its parent element', () => {
    render('<p>Hello <b>there</b></p>');
    const data = click($('b').firstChild!)!;
    assert.equal(data.tag_name, 'b');
    assert.equal(data.text, 'there');
  });

  test('text is trimmed, whitespace collapsed, words of nested elements kept apart, at most 200 characters', () => {
    render('<button>\n   Add \t  to\n\n   cart  </button>');
    assert.equal(click($('button'))!.text, 'Add to cart');

    render('<a href="/"><b>One</b><i>Two</i></a>');
    assert.equal(click($('a'))!.text, 'One Two');

    const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join('   ');
    render(`<button>${words}</button>`);
    const text = click($('button'))!.text!;
    assert.equal(text.length, 200);
    assert.equal(text, words.replace(/\s+/g, ' ').slice(0, 200));
  });

  test('no text: empty elements, scripts and styles', () => {
    render('<button>   </button><div id="d"><script>var secret = 1</script><style>.x{}</style>Label</div>');
    assert.equal(click($('button'))!.text, null);
    assert.equal(click($('#d'))!.text, 'Label');
  });

  test('form fields and editable regions give no text', () => {
    render(
      '<input value="typed"><textarea>typed text</textarea><select><option>Chosen</option></select>' +
        '<div id="ed" contenteditable>my draft</div><div contenteditable="true"><p id="inner">typed <b>here</b></p></div>',
    );
    for (const selector of ['input', 'textarea', 'select', 'option', '#ed', '#inner', '#inner b']) {
      const data = click($(selector));
      assert.ok(data, selector);
      assert.equal(data.text, null, selector);
    }
  });

  test('a contenteditable="false" element has its text', () => {
    render('<div contenteditable="false"><button>Save</button></div>');
    assert.equal(click($('button'))!.text, 'Save');
  });

  test('inside a no-capture subtree there is no click at all', () => {
    render('<div data-sightline-no-capture><section><button><span>Delete account</span></button></section></div>');
    assert.equal(click($('span')), undefined);
    assert.equal(click($('div')), undefined);
  });

  test('text of fields and no-capture parts inside a clickable container is left out', () => {
    render(
      '<label id="l">Email <input value="ada@example.com"><textarea>hidden words</textarea></label>' +
        '<div role="button" id="r">Pick <select><option>Secret choice</option></select><span contenteditable>draft</span>' +
        '<span data-sightline-no-capture>Private</span> done</div>',
    );
    assert.equal(click($('#l'))!.text, 'Email');
    assert.equal(click($('#r'))!.text, 'Pick done');
  });

  test('href is the nearest a[href], resolved, with sensitive parameters stripped', () => {
    render('<a href="/reset?token=abc&x=1"><div><span>Reset</span></div></a><a id="bare"><span>No link</span></a><button>Plain</button>');
    assert.equal(click($('a span'))!.href, 'https://shop.example/reset?token=&x=1');
    assert.equal(click($('#bare span'))!.href, null);
    assert.equal(click($('button'))!.href, null);
    const all = click($('a span'), { maskText: true, stripQueryParams: true })!;
    assert.equal(all.href, 'https://shop.example/reset?token=&x=');
    const none = click($('a span'), { maskText: true, stripQueryParams: false })!;
    assert.equal(none.href, 'https://shop.example/reset?token=abc&x=1');
  });

  test('text that looks personal is masked unless maskText is false', () => {
    render('<button id="e">ada@example.com</button><button id="c">Card 4111 1111 1111 1111</button><button id="p">Pay $12.50</button>');
    assert.equal(click($('#e'))!.text, null);
    assert.equal(click($('#c'))!.text, null);
    assert.equal(click($('#p'))!.text, 'Pay $12.50');
    const unmasked: ClickOptions = { maskText: false, stripQueryParams: undefined };
    assert.equal(click($('#e'), unmasked)!.text, 'ada@example.com');
  });

  test('captureClicks listens in the capture phase and stops', () => {
    render('<div id="app"><button>Go</button></div>');
    const seen: ClickData[] = [];
    // The app stops the click on its way down; the capture listener on document still sees it.
    $('#app').addEventListener('click', (event) => event.stopPropagation(), true);
    const stop = captureClicks(win, (data) => seen.push(data), masked);
    ($('button') as HTMLElement).click();
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.text, 'Go');
    stop();
    ($('button') as HTMLElement).click();
    assert.equal(seen.length, 1);
  });

  test('captureClicks emits nothing for a no-capture click', () => {
    render('<div data-sightline-no-capture><button>Go</button></div>');
    const seen: ClickData[] = [];
    const stop = captureClicks(win, (data) => seen.push(data), masked);
    ($('button') as HTMLElement).click();
    stop();
    assert.equal(seen.length, 0);
  });
});
