// An Express app: / answers with its version, /health with 200 while it
// is healthy. The e2e tests change VERSION and HEALTHY in later commits.
'use strict';

const express = require('express');

const VERSION = '1';
const HEALTHY = true;

const app = express();
app.get('/', (req, res) => res.type('text').send(`express version ${VERSION}\n`));
app.get('/health', (req, res) => res.status(HEALTHY ? 200 : 503).type('text').send(HEALTHY ? 'ok\n' : 'broken\n'));

if (require.main === module) {
  const server = app.listen(Number(process.env.PORT || 3000), process.env.HOST || '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  });
}

module.exports = { app, VERSION };
