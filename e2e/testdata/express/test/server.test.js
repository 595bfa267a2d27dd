'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { app, VERSION } = require('../server');

test('/ answers with the version', async () => {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${server.address().port}/`);
    assert.strictEqual(res.status, 200);
    assert.strictEqual(await res.text(), `express version ${VERSION}\n`);
  } finally {
    server.close();
  }
});
