import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Window } from 'happy-dom';
import { isUserInput, looksPersonal, stripUrl } from './privacy.ts';

describe('isUserInput', () => {
  const window = new Window({ url: 'https://shop.example/a' });
  after(() => window.happyDOM.close());
  const document = window.document as unknown as Document;
  const element = (html: string, selector = 'body > *') => {
    document.body.innerHTML = html;
    return document.querySelector(selector)!;
  };

  test('form fields and options', () => {
    for (const html of ['<input>', '<input type="checkbox">', '<textarea>x</textarea>', '<select><option>a</option></select>']) {
      assert.equal(isUserInput(element(html)), true, html);
    }
    assert.equal(isUserInput(element('<select><option>a</option></select>', 'option')), true);
  });

  test('contenteditable "true", "" and "plaintext-only" are input; "false" is not', () => {
    assert.equal(isUserInput(element('<div contenteditable="true">x</div>')), true);
    assert.equal(isUserInput(element('<div contenteditable="">x</div>')), true);
    assert.equal(isUserInput(element('<div contenteditable>x</div>')), true);
    assert.equal(isUserInput(element('<div contenteditable="plaintext-only">x</div>')), true);
    assert.equal(isUserInput(element('<div contenteditable="false">x</div>')), false);
  });

  test('inside an editable region is input, unless a nearer ancestor says false', () => {
    assert.equal(isUserInput(element('<div contenteditable><p><b>typed</b></p></div>', 'b')), true);
    assert.equal(isUserInput(element('<div contenteditable><p contenteditable="false"><b>widget</b></p></div>', 'b')), false);
  });

  test('ordinary elements are not', () => {
    for (const html of ['<button>Buy</button>', '<a href="/x">x</a>', '<div>x</div>', '<label>Name</label>', '<span>x</span>']) {
      assert.equal(isUserInput(element(html)), false, html);
    }
  });
});

describe('looksPersonal', () => {
  // Test card numbers published by card networks (they pass the Luhn check).
  const cards = ['4111111111111111', '4111 1111 1111 1111', '5555-5555-5555-4444', '3782 822463 10005', '6011 0009 9013 9424'];

  test('card numbers passing the Luhn check, with or without spaces and dashes', () => {
    for (const card of cards) {
      assert.equal(looksPersonal(card), true, card);
      assert.equal(looksPersonal(`Pay with ${card} today`), true, card);
    }
  });

  test('the same digits with the check digit changed are not cards', () => {
    for (const card of cards) {
      const last = Number(card.at(-1));
      const broken = card.slice(0, -1) + String((last + 1) % 10);
      assert.equal(looksPersonal(broken), false, broken);
    }
  });

  test('random 16-digit numbers that fail the Luhn check are not cards', () => {
    let checked = 0;
    for (let seed = 1; checked < 20; seed++) {
      const digits = String(seed * 7_919_113_457_123).padStart(16, '9').slice(0, 16);
      if (luhnValid(digits)) continue;
      checked++;
      assert.equal(looksPersonal(`Order ${digits}`), false, digits);
    }
  });

  test('email addresses', () => {
    for (const text of ['ada@example.com', 'Contact: Ada.Lovelace+news@mail.example.co.uk.', 'Signed in as (bob@shop.io)']) {
      assert.equal(looksPersonal(text), true, text);
    }
  });

  test('ordinary text, prices, dates and phone-like short numbers are not personal', () => {
    for (const text of [
      'Add to cart',
      'Checkout — 3 items',
      '$1,299.99',
      'Total: 12 345 678',
      'Call +1 555-123-4567',
      '+44 20 7946 0958',
      '2030-05-01 12:00',
      'Order #123456',
      '@handle mentioned you',
      'a @ b . com',
    ]) {
      assert.equal(looksPersonal(text), false, text);
    }
  });
});

/** An independent Luhn implementation (double every second digit from the right). */
function luhnValid(digits: string): boolean {
  const sum = [...digits]
    .reverse()
    .map(Number)
    .reduce((acc, d, i) => acc + (i % 2 ? [0, 2, 4, 6, 8, 1, 3, 5, 7, 9][d]! : d), 0);
  return sum % 10 === 0;
}

describe('stripUrl', () => {
  test('default names lose their values, other parameters and their order stay', () => {
    const stripped = stripUrl('https://a.example/cb?x=1&code=abc&state=s&token=t&y=2', undefined);
    assert.equal(stripped, 'https://a.example/cb?x=1&code=&state=s&token=&y=2');
    for (const name of ['code', 'otp', 'key', 'signature', 'sig', 'auth', 'token', 'access_token', 'id_token', 'client_secret', 'password', 'pwd', 'sessionid', 'api_key', 'apikey']) {
      const url = new URL(stripUrl(`https://a.example/?${name}=v1&keep=v2`, undefined));
      assert.equal(url.searchParams.get(name), '', name);
      assert.equal(url.searchParams.get('keep'), 'v2', name);
    }
  });

  test('names are matched case-insensitively', () => {
    assert.equal(stripUrl('https://a.example/?Code=abc&API_KEY=k', undefined), 'https://a.example/?Code=&API_KEY=');
  });

  test('a name containing token, secret, password or session is stripped', () => {
    const href = 'https://a.example/?resetToken=1&client_secret=2&password=3&new_passwd=4&pwd=5&sessionId=6&page=7';
    const url = new URL(stripUrl(href, undefined));
    assert.deepEqual([...url.searchParams], [
      ['resetToken', ''],
      ['client_secret', ''],
      ['password', ''],
      ['new_passwd', ''],
      ['pwd', ''],
      ['sessionId', ''],
      ['page', '7'],
    ]);
  });

  test('true strips every value, false keeps the URL as it is', () => {
    const href = 'https://a.example/p?a=1&b=two&token=t#frag';
    assert.equal(stripUrl(href, true), 'https://a.example/p?a=&b=&token=#frag');
    assert.equal(stripUrl(href, false), href);
  });

  test('a list adds names to the defaults, whatever their case', () => {
    const href = 'https://a.example/?email=ada%40example.com&userId=42&code=c&page=2';
    const url = new URL(stripUrl(href, ['email', 'userId']));
    assert.deepEqual(Object.fromEntries(url.searchParams), { email: '', userId: '', code: '', page: '2' });
  });

  test('parameters in the fragment (OAuth implicit flow) are stripped too', () => {
    assert.equal(
      stripUrl('https://a.example/cb#access_token=abc.def&state=xyz&expires_in=3600', undefined),
      'https://a.example/cb#access_token=&state=xyz&expires_in=3600',
    );
  });

  test('a hash route keeps its path while its parameters are stripped', () => {
    assert.equal(stripUrl('https://a.example/#/callback?code=xyz&tab=2', undefined), 'https://a.example/#/callback?code=&tab=2');
    assert.equal(stripUrl('https://a.example/#/reset?token=abc', undefined), 'https://a.example/#/reset?token=');
  });

  test("a '?' inside a fragment parameter's value does not hide the parameters before it", () => {
    assert.equal(
      stripUrl('https://a.example/cb#access_token=abc&next=/a?b=1', undefined),
      'https://a.example/cb#access_token=&next=%2Fa%3Fb%3D1',
    );
    assert.equal(stripUrl('https://a.example/#/cb?state=/x?y&code=abc', undefined), 'https://a.example/#/cb?state=%2Fx%3Fy&code=');
  });

  test('an unparseable URL is returned as it is', () => {
    for (const href of ['', 'not a url', '/relative?token=1', 'http://[::1']) assert.equal(stripUrl(href, undefined), href);
  });

  test('a URL with nothing to strip is returned byte for byte', () => {
    for (const href of [
      'https://a.example/search?q=hello%20world&sort=price+asc',
      'https://a.example/p?a=1&a=2&empty=&token=',
      'https://a.example/#section-2',
      'https://a.example/#/products?id=5',
      'https://a.example/caf%C3%A9?x=%E2%9C%93',
    ]) {
      assert.equal(stripUrl(href, undefined), href);
    }
  });
});
