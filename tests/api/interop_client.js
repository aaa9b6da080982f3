#!/usr/bin/env node
/*
 * Interoperability check of /v1/live with another WebSocket implementation:
 * the `ws` package from npm (package.json). Run by tests/api/test_interop.c:
 *
 *   node tests/api/interop_client.js ws://127.0.0.1:PORT/v1/live TOKEN
 *
 * The server must hold the latest values of burn/car/1 and burn/car/2 (and
 * of names that do not match burn/car/*), and keep publishing updates of
 * burn/car/1 with an increasing data.seq while this runs. Prints one JSON
 * object (the summary the C test asserts on) and exits 0; exits 1 only if
 * it could not get that far (the reason is in "error").
 */
'use strict';

const WebSocket = require('ws');

const [url, token] = process.argv.slice(2);
const summary = { ws_version: require('ws/package.json').version, errors: [] };

function done(code) {
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(code);
}

setTimeout(() => {
  summary.error = 'timed out';
  done(1);
}, 15000).unref();

/* Open a socket and gather its messages; resolves once it is open. */
function open(u, headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(u, { headers });
    const box = { ws, msgs: [], waiters: [] };
    ws.on('message', (data, isBinary) => {
      box.msgs.push({ data, isBinary });
      box.waiters = box.waiters.filter((w) => !w());
    });
    ws.on('close', (code, reason) => {
      box.closed = { code, reason: reason.toString() };
      box.waiters = box.waiters.filter((w) => !w());
    });
    ws.once('open', () => resolve(box));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => reject({ status: res.statusCode, body }));
    });
    ws.once('error', (e) => reject({ error: String(e && e.message) }));
  });
}

/* Wait until pred(parsed JSON text message) holds for a message not yet taken. */
function next(box, pred, what, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const look = () => {
      for (let i = 0; i < box.msgs.length; i++) {
        const m = box.msgs[i];
        const j = m.isBinary ? { binary: m.data } : JSON.parse(m.data.toString());
        if (pred(j)) {
          box.msgs.splice(i, 1);
          resolve(j);
          return true;
        }
      }
      if (box.closed) {
        reject(new Error(`${what}: closed (${box.closed.code} ${box.closed.reason})`));
        return true;
      }
      return false;
    };
    if (look()) return;
    const t = setTimeout(() => reject(new Error(`${what}: nothing in ${timeoutMs} ms`)), timeoutMs);
    box.waiters.push(() => {
      const r = look();
      if (r) clearTimeout(t);
      return r;
    });
  });
}

async function main() {
  /* 1. JSON: subscribe, snapshot, updates, ping, errors. */
  const a = await open(url, { Authorization: `Bearer ${token}` });
  a.ws.send(JSON.stringify({ op: 'subscribe', topics: ['burn/car/*'], id: 1 }));
  const ack = await next(a, (j) => j.op === 'subscribed', 'subscribed');
  summary.subscribed = { topics: ack.topics, id: ack.id };
  summary.snapshots = {};
  for (let i = 0; i < 2; i++) {
    const s = await next(a, (j) => j.op === 'snapshot', 'snapshot');
    summary.snapshots[`${s.topic}/${s.key}`] = s.data;
  }
  const seqs = [];
  while (seqs.length < 3) {
    const u = await next(a, (j) => j.op === 'update', 'update');
    if (u.topic !== 'burn' || !/^car\/[0-9]+$/.test(u.key)) summary.errors.push(`update of ${u.topic}/${u.key}`);
    seqs.push(u.data.seq);
  }
  summary.updates = seqs.length;
  summary.seq_increasing = seqs.every((s, i) => i === 0 || s > seqs[i - 1]);
  a.ws.send(JSON.stringify({ op: 'ping', id: 'p1' }));
  const pong = await next(a, (j) => j.op === 'pong', 'pong');
  summary.pong_id = pong.id;
  a.ws.send('{"op":"subscribe",');
  const bad = await next(a, (j) => j.op === 'error', 'error for bad JSON');
  summary.bad_json = { code: bad.code, message: bad.message };
  a.ws.send(JSON.stringify({ op: 'subscribe', topics: ['burn/*x'], id: 'b' }));
  const badp = await next(a, (j) => j.op === 'error', 'error for a bad pattern');
  summary.bad_pattern = { code: badp.code, id: badp.id, message: badp.message };
  a.ws.close(1000, 'done');

  /* 2. Token in the query, msgpack: snapshots come as binary frames. */
  const b = await open(`${url}?token=${encodeURIComponent(token)}&format=msgpack`, {});
  b.ws.send(JSON.stringify({ op: 'subscribe', topics: ['burn/car/2'] }));
  await next(b, (j) => j.op === 'subscribed', 'msgpack subscribed');
  const bin = await next(b, (j) => j.binary !== undefined, 'msgpack snapshot');
  /* A msgpack map (fixmap 0x80-0x8f or map16 0xde) holding "snapshot". */
  summary.msgpack = {
    binary: Buffer.isBuffer(bin.binary),
    map: bin.binary.length > 0 && ((bin.binary[0] & 0xf0) === 0x80 || bin.binary[0] === 0xde),
    has_snapshot: bin.binary.includes(Buffer.from('snapshot')),
  };
  b.ws.close(1000, 'done');

  /* 3. A token nobody configured: 401 with a JSON body. */
  try {
    const c = await open(url, { Authorization: 'Bearer not-a-token' });
    c.ws.close();
    summary.unauthorized = { status: 101 };
  } catch (e) {
    let body = null;
    try { body = JSON.parse(e.body); } catch (_) { /* left null */ }
    summary.unauthorized = { status: e.status, error: body && body.error };
  }
  summary.ok = summary.errors.length === 0;
  done(0);
}

main().catch((e) => {
  summary.error = String(e && e.message ? e.message : JSON.stringify(e));
  done(1);
});
