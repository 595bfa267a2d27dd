'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { createApp } = require('../app.js');

async function withServer(env, fn) {
  const server = createApp(env);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    await fn(base);
  } finally {
    server.close();
  }
}

test('/status answers 200 ok', async () => {
  await withServer({}, async (base) => {
    const res = await fetch(`${base}/status`);
    assert.strictEqual(res.status, 200);
    assert.deepStrictEqual(await res.json(), { status: 'ok' });
  });
});

test('/ greets with the version', async () => {
  await withServer({ APP_VERSION: '2.0.0', GREETING: 'hi' }, async (base) => {
    const res = await fetch(`${base}/`);
    assert.strictEqual(res.status, 200);
    assert.deepStrictEqual(await res.json(), { message: 'hi', version: '2.0.0' });
  });
});

test('unknown paths are 404', async () => {
  await withServer({}, async (base) => {
    const res = await fetch(`${base}/nope`);
    assert.strictEqual(res.status, 404);
  });
});

test('BROKEN=1 fails the health check', async () => {
  await withServer({ BROKEN: '1' }, async (base) => {
    const res = await fetch(`${base}/status`);
    assert.strictEqual(res.status, 503);
  });
});

test('ERROR_RATE=1 answers 500', async () => {
  await withServer({ ERROR_RATE: '1' }, async (base) => {
    const res = await fetch(`${base}/`);
    assert.strictEqual(res.status, 500);
  });
});
