import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Window } from 'happy-dom';
import { memoryStore, webStore, type Store } from './store.ts';

/** A Storage whose every method throws, like Safari's private mode or a full quota. */
function throwingStorage(error: () => Error): Storage {
  const fail = () => {
    throw error();
  };
  return {
    getItem: fail,
    setItem: fail,
    removeItem: fail,
    key: fail,
    clear: fail,
    get length(): number {
      return fail();
    },
  };
}

const quota = () => Object.assign(new Error('The quota has been exceeded.'), { name: 'QuotaExceededError' });
const security = () => Object.assign(new Error('Access is denied for this document.'), { name: 'SecurityError' });

/** The behaviour every Store shares. */
function contract(name: string, make: () => Store) {
  test(`${name}: get, set, remove and keys(prefix)`, () => {
    const store = make();
    assert.equal(store.get('sightline:p:a'), null);
    assert.equal(store.set('sightline:p:a', '1'), true);
    assert.equal(store.set('sightline:p:queue:x', '2'), true);
    assert.equal(store.set('sightline:q:a', '3'), true);
    assert.equal(store.set('other', '4'), true);
    assert.equal(store.get('sightline:p:a'), '1');
    assert.deepEqual(store.keys('sightline:p:').sort(), ['sightline:p:a', 'sightline:p:queue:x']);
    assert.deepEqual(store.keys('sightline:p:queue:'), ['sightline:p:queue:x']);
    assert.deepEqual(store.keys('none:'), []);
    store.remove('sightline:p:a');
    assert.equal(store.get('sightline:p:a'), null);
    assert.deepEqual(store.keys('sightline:p:'), ['sightline:p:queue:x']);
    store.remove('missing');
  });
}

describe('webStore', () => {
  const window = new Window({ url: 'https://shop.example/a' });
  after(() => window.happyDOM.close());

  contract('over localStorage', () => {
    window.localStorage.clear();
    return webStore(() => window.localStorage as unknown as Storage);
  });

  for (const [label, error] of [
    ['QuotaExceededError', quota],
    ['SecurityError', security],
  ] as const) {
    test(`every method throwing ${label} degrades to "nothing stored"`, () => {
      const store = webStore(() => throwingStorage(error));
      assert.equal(store.get('k'), null);
      assert.equal(store.set('k', 'v'), false);
      assert.equal(store.remove('k'), undefined);
      assert.deepEqual(store.keys('k'), []);
    });
  }

  test('reaching the storage itself throwing (sandboxed iframe) degrades too', () => {
    const store = webStore(() => {
      throw security();
    });
    assert.equal(store.get('k'), null);
    assert.equal(store.set('k', 'v'), false);
    assert.doesNotThrow(() => store.remove('k'));
    assert.deepEqual(store.keys(''), []);
  });

  test('a full storage refuses set() but still reads', () => {
    const backing = new Map<string, string>([['sightline:p:refresh', 'r1']]);
    const full: Storage = {
      getItem: (k) => backing.get(k) ?? null,
      setItem: () => {
        throw quota();
      },
      removeItem: (k) => void backing.delete(k),
      key: (i) => [...backing.keys()][i] ?? null,
      clear: () => backing.clear(),
      get length() {
        return backing.size;
      },
    };
    const store = webStore(() => full);
    assert.equal(store.set('sightline:p:queue:x', '[]'), false);
    assert.equal(store.get('sightline:p:refresh'), 'r1');
    assert.deepEqual(store.keys('sightline:'), ['sightline:p:refresh']);
  });

  test('the storage is looked up on every access', () => {
    let current: Storage = throwingStorage(security);
    const store = webStore(() => current);
    assert.equal(store.set('k', 'v'), false);
    current = window.localStorage as unknown as Storage;
    assert.equal(store.set('k', 'v'), true);
    assert.equal(store.get('k'), 'v');
  });
});

describe('memoryStore', () => {
  contract('in memory', memoryStore);

  test('stores are independent', () => {
    const a = memoryStore();
    const b = memoryStore();
    a.set('k', '1');
    assert.equal(b.get('k'), null);
  });
});
