// execward mcp at the line level: hand-written JSON-RPC lines in, every
// line out checked (valid UTF-8, one JSON value, the right answer).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { assertMcpForm, execwardBin, libexecward, makeWorld, pidGone, readmeCommands, skipUnless, sleep, waitFor } from './lib.mjs';

skipUnless(fs.existsSync(execwardBin) && fs.existsSync(libexecward), `${execwardBin} or ${libexecward} not built`);

const worlds = [];
const procs = [];
// A failed test must not leave a server holding the runner open.
after(() => {
  procs.forEach((p) => p.exitCode === null && p.kill('SIGKILL'));
  worlds.forEach((w) => w.cleanup());
});
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/* A server on pipes, read line by line. */
class Raw {
  constructor(name) {
    this.world = makeWorld(name);
    worlds.push(this.world);
    const [command, ...args] = readmeCommands().codex;
    this.proc = spawn(command, args, { env: this.world.env, cwd: this.world.work, stdio: ['pipe', 'pipe', 'pipe'] });
    procs.push(this.proc);
    this.lines = [];
    this.waiters = [];
    this.stderr = '';
    this.exit = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    let pending = Buffer.alloc(0);
    this.proc.stdout.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      let nl;
      while ((nl = pending.indexOf(10)) >= 0) {
        this.push(pending.subarray(0, nl));
        pending = pending.subarray(nl + 1);
      }
    });
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    this.proc.stdin.on('error', () => {});
  }

  push(bytes) {
    // Every line must be valid UTF-8 holding exactly one JSON value.
    const text = strictUtf8.decode(bytes);
    const msg = JSON.parse(text);
    if (this.waiters.length > 0) this.waiters.shift()(msg);
    else this.lines.push(msg);
  }

  send(line) {
    if (Buffer.isBuffer(line)) this.proc.stdin.write(Buffer.concat([line, Buffer.from('\n')]));
    else this.proc.stdin.write((typeof line === 'string' ? line : JSON.stringify(line)) + '\n');
  }

  next(ms = 10000) {
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift());
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no line from the server in ${ms} ms; stderr:\n${this.stderr}`)), ms);
      this.waiters.push((m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
  }

  // Send a request and return the next line (which must answer it).
  async call(msg) {
    this.send(msg);
    const r = await this.next();
    assert.deepEqual(r.id, msg.id, JSON.stringify(r));
    return r;
  }

  async init(version = '2025-11-25', capabilities = { elicitation: {} }) {
    const r = await this.call({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: version, capabilities, clientInfo: { name: 'raw', version: '1' } } });
    this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return r;
  }

  // Nothing more was written: a ping's answer is the very next line.
  async quiet() {
    const id = `q${Math.random()}`;
    const r = await this.call({ jsonrpc: '2.0', id, method: 'ping' });
    assert.deepEqual(r.result, {});
  }

  async close() {
    this.proc.stdin.end();
    const t0 = Date.now();
    const { code } = await this.exit;
    assert.equal(code, 0, this.stderr);
    return Date.now() - t0;
  }
}

function errorOf(r, code) {
  assert.ok(r.error, `expected an error, got ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code, JSON.stringify(r));
  assert.equal(typeof r.error.message, 'string');
  return r.error;
}

test('before initialize: a discovery probe and other requests get errors at once, ping works', async () => {
  const s = new Raw('preinit');
  errorOf(await s.call({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } }), -32601);
  errorOf(await s.call({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), -32600);
  assert.deepEqual((await s.call({ jsonrpc: '2.0', id: 3, method: 'ping' })).result, {});
  s.send('[{"jsonrpc":"2.0","id":4,"method":"ping"}]');
  const r = await s.next();
  assert.equal(r.id, null);
  errorOf(r, -32600);
  await s.close();
});

test('initialize negotiates each revision, and the newest for others', async () => {
  for (const [asked, got] of [['2024-11-05', '2024-11-05'], ['2025-03-26', '2025-03-26'], ['2025-06-18', '2025-06-18'], ['2025-11-25', '2025-11-25'], ['2099-01-01', '2025-11-25'], ['2026-07-28', '2025-11-25']]) {
    const s = new Raw('negotiate');
    const r = await s.init(asked);
    assert.equal(r.result.protocolVersion, got);
    assert.equal(r.result.serverInfo.name, 'execward');
    assert.deepEqual(r.result.capabilities.experimental['codex/sandbox-state'], { version: '1.0.0' });
    assert.ok(r.result.capabilities.logging);
    assert.equal(typeof r.result.instructions, 'string');
    const tool = (await s.call({ jsonrpc: '2.0', id: 2, method: 'tools/list' })).result.tools[0];
    assert.equal('outputSchema' in tool, got >= '2025-06-18');
    assert.equal('title' in tool, got >= '2025-06-18');
    assert.equal('annotations' in tool, got >= '2025-03-26');
    errorOf(await s.call({ jsonrpc: '2.0', id: 3, method: 'initialize', params: { protocolVersion: asked, capabilities: {}, clientInfo: { name: 'x', version: '1' } } }), -32600);
    await s.close();
  }
  const s = new Raw('badversion');
  const e = errorOf(await s.call({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 7 } }), -32602);
  assert.ok(e.data.supported.includes('2025-11-25'));
  await s.close();
});

test('each error code for hand-written lines', async () => {
  const s = new Raw('errors');
  await s.init();
  const parse = async (line) => {
    s.send(line);
    const r = await s.next();
    assert.equal(r.id, null);
    return errorOf(r, -32700);
  };
  await parse('this is not json');
  await parse('{"jsonrpc":"2.0","id":1,"method":"ping"');
  await parse('{"jsonrpc":"2.0","id":1,"method":"ping"} trailing');
  await parse(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"p\xffng"}', 'latin1'));
  const invalid = async (line, id = null) => {
    s.send(line);
    const r = await s.next();
    assert.deepEqual(r.id, id);
    return errorOf(r, -32600);
  };
  await invalid('"just a string"');
  await invalid('{"jsonrpc":"2.0","id":5}', 5);
  await invalid('{"jsonrpc":"1.0","id":6,"method":"ping"}', 6);
  await invalid('{"id":7,"method":"ping"}', 7);
  await invalid('{"jsonrpc":"2.0","id":null,"method":"ping"}');
  await invalid('{"jsonrpc":"2.0","id":1.5,"method":"ping"}');
  await invalid('{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}');
  await invalid('{"jsonrpc":"2.0","id":8,"method":42}', 8);
  await invalid('{"jsonrpc":"2.0","id":9,"method":"ping","params":"x"}', 9);
  await invalid(`${'['.repeat(100)}${']'.repeat(100)}`);
  errorOf(await s.call({ jsonrpc: '2.0', id: 10, method: 'resources/list' }), -32601);
  errorOf(await s.call({ jsonrpc: '2.0', id: 'eleven', method: 'no/such/method', params: {} }), -32601);
  errorOf(await s.call({ jsonrpc: '2.0', id: 12, method: 'tools/call', params: { name: 'nope', arguments: {} } }), -32602);
  errorOf(await s.call({ jsonrpc: '2.0', id: 13, method: 'tools/call', params: { arguments: {} } }), -32602);
  errorOf(await s.call({ jsonrpc: '2.0', id: 14, method: 'tools/call', params: { name: 'shell', arguments: 'x' } }), -32602);
  errorOf(await s.call({ jsonrpc: '2.0', id: 15, method: 'logging/setLevel', params: { level: 'loud' } }), -32602);
  errorOf(await s.call({ jsonrpc: '2.0', id: 16, method: 'ping', params: [1, 2] }), -32602);
  errorOf(await s.call({ jsonrpc: '2.0', id: 17, method: 'tools/list', params: { cursor: 'x' } }), -32602);
  errorOf(await s.call({ jsonrpc: '2.0', id: 18, method: 'codex/sandbox-state/update', params: { sandboxPolicy: { type: 'sideways' } } }), -32602);
  assert.deepEqual((await s.call({ jsonrpc: '2.0', id: 19, method: 'codex/sandbox-state/update', params: { sandboxPolicy: { type: 'workspace-write', writable_roots: [] }, sandboxCwd: '/tmp' } })).result, {});
  assert.deepEqual((await s.call({ jsonrpc: '2.0', id: 20, method: 'logging/setLevel', params: { level: 'debug' } })).result, {});
  // A blank line and CRLF endings are fine.
  s.send('');
  s.send('{"jsonrpc":"2.0","id":21,"method":"ping"}\r');
  assert.equal((await s.next()).id, 21);
  await s.close();
});

test('notifications get no reply', async () => {
  const s = new Raw('notify');
  await s.init();
  s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'nobody', reason: 'x' } });
  s.send({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' });
  s.send({ jsonrpc: '2.0', method: 'notifications/whatever', params: { a: 1 } });
  s.send({ jsonrpc: '2.0', id: 'ew-999', result: { action: 'accept' } });
  await s.quiet();
  await s.close();
});

test('ping while a prompt is open; cancelling the call withdraws the prompt and a late accept runs nothing', async () => {
  const s = new Raw('prompt');
  await s.init();
  const file = path.join(s.world.work, 'raw-prompt');
  s.send({ jsonrpc: '2.0', id: 'call-1', method: 'tools/call', params: { name: 'shell', arguments: { command: `touch ${file}`, workdir: s.world.work } } });
  const ask = await s.next();
  assert.equal(ask.method, 'elicitation/create');
  assert.equal(typeof ask.id, 'string');
  assert.equal(ask.params.message, `Execution Permission Request: Allow agent to run \`/usr/bin/touch ${file}\` in \`${s.world.work}\`?`);
  assertMcpForm(ask.params.requestedSchema);
  assert.deepEqual((await s.call({ jsonrpc: '2.0', id: 'p1', method: 'ping' })).result, {});
  s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'call-1', reason: 'user pressed stop' } });
  const withdrawn = await s.next();
  assert.equal(withdrawn.method, 'notifications/cancelled');
  assert.equal(withdrawn.params.requestId, ask.id);
  s.send({ jsonrpc: '2.0', id: ask.id, result: { action: 'accept', content: {} } });
  await sleep(500);
  await s.quiet();
  assert.ok(!fs.existsSync(file));
  await s.close();
});

test('an elicitation answered with an error or garbage is a deny', async () => {
  const s = new Raw('elicit-error');
  await s.init();
  const cases = [
    [(id) => ({ jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } }), /could not ask \(Method not found\)/],
    [(id) => ({ jsonrpc: '2.0', id, result: { action: 'accept', content: { remember: 'forever' } } }), /did not match the form/],
    [(id) => ({ jsonrpc: '2.0', id, result: { action: 'maybe' } }), /unknown action/],
  ];
  for (const [i, [answer, reason]] of cases.entries()) {
    const file = path.join(s.world.work, `e${i}`);
    s.send({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'shell', arguments: { command: `touch ${file}`, workdir: s.world.work } } });
    const ask = await s.next();
    assert.equal(ask.method, 'elicitation/create');
    s.send(answer(ask.id));
    const r = await s.next();
    assert.equal(r.id, i);
    assert.match(r.result.structuredContent.output, /execward: denied: touch/);
    assert.ok(!fs.existsSync(file));
    // The audit record says why.
    const rec = s.world.audit().find((a) => a.argv[0] === 'touch' && a.argv[1] === file);
    assert.equal(rec.decision, 'deny');
    assert.match(rec.reason, reason);
  }
  await s.close();
});

test('a revision without elicitation: prompts are denied without asking', async () => {
  const s = new Raw('old-rev');
  await s.init('2025-03-26', { elicitation: {} });
  const file = path.join(s.world.work, 'old');
  const r = await s.call({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'shell', arguments: { command: `touch ${file}`, workdir: s.world.work } } });
  const c = JSON.parse(r.result.content[0].text);
  assert.ok(!('structuredContent' in r.result));
  assert.match(c.output, /execward: denied: touch .*2025-06-18/);
  assert.ok(!fs.existsSync(file));
  await s.close();
});

test('batches, as each revision says', async () => {
  for (const rev of ['2024-11-05', '2025-03-26']) {
    const s = new Raw('batch');
    await s.init(rev);
    s.send('[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"zz"}},{"jsonrpc":"2.0","id":"b","method":"tools/list"}]');
    let r = await s.next();
    assert.ok(Array.isArray(r));
    assert.deepEqual(r.map((x) => x.id), ['a', 'b']);
    assert.deepEqual(r[0].result, {});
    assert.equal(r[1].result.tools[0].name, 'shell');
    // A tools/call inside a batch: the batch is answered when it ends.
    s.send(`[{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"shell","arguments":{"command":"echo batched","workdir":"${s.world.work}"}}},1,{"jsonrpc":"2.0","id":"d","method":"initialize","params":{"protocolVersion":"${rev}"}}]`);
    r = await s.next();
    assert.equal(r.length, 3);
    assert.equal(JSON.parse(r[0].result.content[0].text).output, 'batched\n');
    errorOf(r[1], -32600);
    assert.equal(r[1].id, null);
    errorOf(r[2], -32600);
    s.send('[]');
    r = await s.next();
    assert.ok(!Array.isArray(r));
    errorOf(r, -32600);
    // Only notifications: nothing at all is written.
    s.send('[{"jsonrpc":"2.0","method":"notifications/initialized"}]');
    await s.quiet();
    await s.close();
  }
  for (const rev of ['2025-06-18', '2025-11-25']) {
    const s = new Raw('nobatch');
    await s.init(rev);
    s.send('[{"jsonrpc":"2.0","id":"a","method":"ping"}]');
    const r = await s.next();
    assert.ok(!Array.isArray(r));
    assert.equal(r.id, null);
    assert.match(errorOf(r, -32600).message, new RegExp(rev));
    await s.quiet();
    await s.close();
  }
});

test('a 20 MiB line is refused, and the next line is still answered', async () => {
  const s = new Raw('huge');
  await s.init();
  const pad = 'x'.repeat(20 * 1024 * 1024);
  s.send(`{"jsonrpc":"2.0","id":"big","method":"ping","params":{"pad":"${pad}"}}`);
  const r = await s.next(30000);
  assert.equal(r.id, null);
  assert.match(errorOf(r, -32600).message, /exceeds the limit of 16777216 bytes/);
  assert.deepEqual((await s.call({ jsonrpc: '2.0', id: 'after', method: 'ping' })).result, {});
  await s.close();
});

test('invalid UTF-8 in a command\'s output: the reply is valid UTF-8', async () => {
  const s = new Raw('utf8');
  await s.init();
  const r = await s.call({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'shell', arguments: { command: "printf 'a\\377b\\303\\n\\033[1mé\\000z'", workdir: s.world.work } } });
  const c = r.result.structuredContent;
  assert.equal(c.exit_code, 0);
  assert.equal(c.output, 'a\ufffdb\ufffd\n\u001b[1mé\u0000z');
  assert.deepEqual(JSON.parse(r.result.content[0].text), c);
  await s.close();
});

test('stdin closed: running commands are killed and the server exits 0 within 2 s', async () => {
  const s = new Raw('eof');
  await s.init();
  const pidfile = path.join(s.world.work, 'pid');
  s.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'shell', arguments: { command: `sleep 100 & echo $! > ${pidfile}; wait`, workdir: s.world.work } } });
  await waitFor(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').endsWith('\n'), 5000, 'the pid file');
  const pid = Number(fs.readFileSync(pidfile, 'utf8'));
  const ms = await s.close();
  assert.ok(ms < 2000, `exit took ${ms} ms`);
  await waitFor(() => pidGone(pid), 2000, `sleep (pid ${pid}) to be gone`);
});
