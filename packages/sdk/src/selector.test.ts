import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Window } from 'happy-dom';
import { selectorOf } from './selector.ts';

describe('selectorOf', () => {
  const window = new Window({ url: 'https://shop.example/a' });
  after(() => window.happyDOM.close());
  const document = window.document as unknown as Document;
  const render = (html: string) => void (document.body.innerHTML = html);
  const $ = (selector: string) => document.querySelector(selector)!;
  /** The selector finds the element in the page (happy-dom parses it). */
  const assertFinds = (selector: string, element: Element) =>
    assert.ok(Array.from(document.querySelectorAll(selector)).includes(element), `${selector} does not find the element`);

  test('stops at the nearest ancestor with an id', () => {
    render('<main id="outer"><section id="checkout"><div><button>Pay</button></div></section></main>');
    const selector = selectorOf($('button'));
    assert.equal(selector, '#checkout > div > button');
    assertFinds(selector, $('button'));
  });

  test('an element with an id is just its id', () => {
    render('<div><button id="buy" class="primary">Buy</button></div>');
    assert.equal(selectorOf($('#buy')), '#buy');
  });

  test('at most five levels, stopping below <html>', () => {
    render('<div><div><div><div><div><div><div><span>deep</span></div></div></div></div></div></div></div>');
    const selector = selectorOf($('span'));
    assert.equal(selector.split(' > ').length, 5);
    assert.equal(selector, 'div > div > div > div > span');
    assertFinds(selector, $('span'));

    render('<p>shallow</p>');
    assert.equal(selectorOf($('p')), 'body > p');
  });

  test('nth-of-type only when siblings share the tag', () => {
    render('<ul id="list"><li>a</li><li>b</li><li>c</li></ul><div id="solo"><h2>t</h2><button>only</button><p>x</p></div>');
    const second = $('#list > li:nth-child(2)');
    assert.equal(selectorOf(second), '#list > li:nth-of-type(2)');
    assertFinds(selectorOf(second), second);
    assert.equal(selectorOf($('#solo > button')), '#solo > button');

    render('<div id="row"><span>a</span><button>one</button><span>b</span><button>two</button></div>');
    const two = document.querySelectorAll('button')[1]!;
    assert.equal(selectorOf(two), '#row > button:nth-of-type(2)');
    assert.equal(selectorOf(document.querySelectorAll('span')[1]!), '#row > span:nth-of-type(2)');
  });

  test('at most two classes per level', () => {
    render('<div id="app"><a class="btn btn-primary btn-lg x9f2" href="/">Go</a></div>');
    assert.equal(selectorOf($('a')), '#app > a.btn.btn-primary');
  });

  test('odd ids and classes are escaped so the selector still finds the element', () => {
    render('<div id="user:42"><i class="w-1/2 md:flex">i</i></div>');
    const selector = selectorOf($('i'));
    assert.equal(selector, '#user\\:42 > i.w-1\\/2.md\\:flex');
    assertFinds(selector, $('i'));
  });

  test("escaping is the element's own window's CSS.escape", () => {
    const calls: string[] = [];
    // happy-dom's CSS is a getter on the window: shadow it with an own property, then remove that.
    Object.defineProperty(window, 'CSS', { value: { escape: (s: string) => (calls.push(s), `E(${s})`) }, configurable: true });
    try {
      render('<div id="a"><b class="c">x</b></div>');
      assert.equal(selectorOf($('b')), '#E(a) > b.E(c)');
      assert.deepEqual(calls.sort(), ['a', 'c']);
    } finally {
      delete (window as { CSS?: unknown }).CSS;
    }
    assert.equal(selectorOf($('b')), '#a > b.c');
  });
});
