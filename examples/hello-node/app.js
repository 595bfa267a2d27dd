// hello-node: the seed documents' Node.js app, without dependencies.
// Routes: / (a greeting with the version), /status and /health (200 when
// the app is ready). It listens on $PORT and shuts down gracefully on
// SIGTERM: it stops accepting, finishes in-flight requests, then exits.
//
// Two switches simulate a bad release, to watch cutover roll it back:
// BROKEN=1 makes /status answer 503 (the health check fails), and
// ERROR_RATE=0.3 makes / answer 500 to that share of requests.
'use strict';

const http = require('node:http');
const { version } = require('./package.json');

function createApp(env = process.env) {
  const appVersion = env.APP_VERSION || version;
  const greeting = env.GREETING || 'Hello from cutover';
  const broken = env.BROKEN === '1';
  const errorRate = Number(env.ERROR_RATE || 0);
  return http.createServer((req, res) => {
    const path = new URL(req.url, 'http://localhost').pathname;
    const json = (code, body) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body) + '\n');
    };
    switch (path) {
      case '/':
        if (Math.random() < errorRate) {
          return json(500, { error: 'simulated failure', version: appVersion });
        }
        return json(200, { message: greeting, version: appVersion });
      case '/status':
      case '/health':
        if (broken) {
          return json(503, { status: 'broken' });
        }
        return json(200, { status: 'ok' });
      default:
        return json(404, { error: 'not found' });
    }
  });
}

if (require.main === module) {
  const port = Number(process.env.PORT || 3000);
  const server = createApp();
  server.keepAliveTimeout = 65000;
  server.listen(port, '127.0.0.1', () => {
    console.log(`hello-node ${process.env.APP_VERSION || version} listening on 127.0.0.1:${port}`);
  });
  process.on('SIGTERM', () => {
    console.log('SIGTERM: finishing in-flight requests');
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  });
}

module.exports = { createApp };
