// Drives harrier-server with Node's http client, as Node services call it: a keep-alive Agent
// with a few sockets, requests in parallel, bodies with Content-Length and chunked (Node's
// default for a body of unknown length), and Expect: 100-continue answered through the
// 'continue' event. Every response is checked. Prints one line per failure; exit code 1 when any.
//
// Usage: node node_client.js PORT
'use strict';
const http = require('http');

const port = Number(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const sockets = new Set();
const failures = [];

function request(options, send) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, agent, ...options }, (res) => {
      sockets.add(res.socket);
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                    body: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(10000, () => req.destroy(new Error('timed out')));
    req.on('error', (e) => resolve({ error: e.message }));
    send(req);
  });
}

function expect(name, got, status, body) {
  if (got.error) failures.push(`${name}: ${got.error}`);
  else if (got.status !== status) failures.push(`${name}: status ${got.status}, want ${status}`);
  else if (body !== undefined && got.body !== body) {
    failures.push(`${name}: body of ${got.body.length} bytes, want ${body.length}`);
  }
}

async function main() {
  const jobs = [];
  for (let i = 0; i < 200; i++) {
    const body = 'x'.repeat((i * 397) % 20000);
    if (i % 3 === 0) {
      jobs.push(request({ path: '/plaintext' }, (req) => req.end())
        .then((r) => expect(`GET ${i}`, r, 200, 'Hello, World!')));
    } else if (i % 3 === 1) {
      const headers = { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) };
      jobs.push(request({ path: '/echo', method: 'POST', headers }, (req) => req.end(body))
        .then((r) => expect(`POST ${i} with Content-Length`, r, 200, body)));
    } else {
      // No length given and written in two pieces: Node sends Transfer-Encoding: chunked.
      const headers = { 'Content-Type': 'text/plain' };
      jobs.push(request({ path: '/echo', method: 'POST', headers }, (req) => {
        req.write(body.slice(0, 100));
        req.end(body.slice(100));
      }).then((r) => expect(`POST ${i} chunked`, r, 200, body)));
    }
  }
  await Promise.all(jobs);

  let continued = false;
  const r = await request({ path: '/echo', method: 'POST',
                            headers: { Expect: '100-continue', 'Content-Length': 5 } }, (req) => {
    req.on('continue', () => { continued = true; req.end('hello'); });
  });
  expect('Expect: 100-continue', r, 200, 'hello');
  if (!continued) failures.push('Expect: 100-continue: no interim 100 Continue');

  const head = await request({ path: '/json', method: 'HEAD' }, (req) => req.end());
  expect('HEAD', head, 200, '');
  if (!head.error && head.headers['content-length'] !== '27') {
    failures.push(`HEAD: Content-Length ${head.headers['content-length']}, want 27`);
  }

  if (sockets.size > 4) failures.push(`${sockets.size} connections for a 4-socket keep-alive agent`);
  agent.destroy();
  for (const f of failures) console.log(f);
  if (failures.length === 0) console.log('ok');
  process.exitCode = failures.length === 0 ? 0 : 1;
}

main();
