const test = require('node:test')
const assert = require('node:assert')
const express = require('express')

test('express answers /status', async () => {
  const app = express()
  app.get('/status', (req, res) => res.status(200).json({status: 'ok'}))
  const server = app.listen(0)
  const res = await fetch(`http://127.0.0.1:${server.address().port}/status`)
  assert.deepStrictEqual(await res.json(), {status: 'ok'})
  server.close()
})
