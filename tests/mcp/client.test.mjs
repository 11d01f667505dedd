// execward mcp driven by the official MCP TypeScript SDK client (1.x), as
// Codex or Claude Code would: the server is started with the README's
// command lines.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { assertMcpForm, execwardBin, libexecward, makeWorld, pidGone, readmeCommands, skipUnless, sleep, waitFor } from './lib.mjs';

let sdk;
try {
  sdk = {
    ...(await import('@modelcontextprotocol/sdk/client/index.js')),
    ...(await import('@modelcontextprotocol/sdk/client/stdio.js')),
    ...(await import('@modelcontextprotocol/sdk/types.js')),
  };
} catch {
  skipUnless(false, '@modelcontextprotocol/sdk is not installed (scripts/setup runs npm ci in tests/mcp)');
}
skipUnless(fs.existsSync(execwardBin) && fs.existsSync(libexecward), `${execwardBin} or ${libexecward} not built`);

const { Client, StdioClientTransport, ElicitRequestSchema, LoggingMessageNotificationSchema, McpError } = sdk;
const commands = readmeCommands();
const worlds = [];
const transports = [];
// A failed test must not leave a server holding the runner open.
after(async () => {
  await Promise.all(transports.map((t) => t.close().catch(() => {})));
  worlds.forEach((w) => w.cleanup());
});

/*
 * Start a server and connect a client. answer(params) decides each
 * elicitation (the default accepts once); elicit: false makes a client
 * without the capability. Every message either way is recorded.
 */
async function open({ name, elicit = true, answer, via = 'codex', world, env = {} } = {}) {
  const w = world ?? makeWorld(name);
  if (!world) worlds.push(w);
  const [command, ...args] = commands[via];
  const transport = new StdioClientTransport({ command, args, env: { ...w.env, ...env }, cwd: w.work, stderr: 'pipe' });
  transports.push(transport);
  const stderr = [];
  transport.stderr?.on('data', (d) => stderr.push(String(d)));
  const client = new Client({ name: 'execward-tests', version: '0.1.0' }, elicit ? { capabilities: { elicitation: {} } } : {});
  const seen = { elicitations: [], logs: [], errors: [], in: [], out: [] };
  client.onerror = (e) => seen.errors.push(e);
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => seen.logs.push(n.params));
  if (elicit) {
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      seen.elicitations.push(req.params);
      return answer ? answer(req.params) : { action: 'accept', content: { remember: 'once' } };
    });
  }
  await client.connect(transport);
  // Tap the wire both ways (after connect, which installs the handlers).
  const onmessage = transport.onmessage;
  transport.onmessage = (msg, extra) => {
    seen.in.push(msg);
    onmessage(msg, extra);
  };
  const send = transport.send.bind(transport);
  transport.send = (msg, opts) => {
    seen.out.push(msg);
    return send(msg, opts);
  };
  const shell = (command, extra = {}, options = {}) =>
    client.callTool({ name: 'shell', arguments: { command, workdir: w.work, ...extra } }, undefined, { timeout: 30_000, ...options });
  const close = async () => {
    await client.close();
    // The SDK handles notifications a microtask after responses, so a
    // progress notification that the server wrote before its call's result
    // can reach the SDK's handler after the result retired the token. That
    // is the SDK's race, not a server error: the wire order is checked.
    const errors = seen.errors.filter((e) => {
      const m = /progress notification for an unknown token: (.*)$/.exec(String(e.message ?? e));
      if (!m) return true;
      const note = JSON.parse(m[1]);
      const at = seen.in.findIndex((msg) => msg.method === 'notifications/progress' && JSON.stringify(msg.params) === JSON.stringify(note.params));
      const done = seen.in.findIndex((msg) => msg.id === note.params.progressToken && ('result' in msg || 'error' in msg));
      return !(at >= 0 && done > at);
    });
    assert.deepEqual(errors, [], `the client could not read something the server wrote: ${errors.join('; ')}\n${stderr.join('')}`);
    // A sanitizer build says so on stderr as it exits.
    await sleep(100);
    assert.doesNotMatch(stderr.join(''), /Sanitizer|runtime error/);
  };
  return { client, transport, seen, shell, close, world: w, stderr };
}

// The Codex result, checked to be the same in the text item and structuredContent.
function codexResult(r) {
  assert.equal(r.content.length, 1);
  assert.equal(r.content[0].type, 'text');
  const fromText = JSON.parse(r.content[0].text);
  assert.deepEqual(r.structuredContent, fromText);
  assert.deepEqual(Object.keys(fromText).sort(), ['duration', 'exit_code', 'output', 'timed_out']);
  assert.equal(typeof fromText.duration.secs, 'number');
  assert.equal(typeof fromText.duration.nanos, 'number');
  return fromText;
}

test('the README snippets for Codex, Claude Code and the Inspector start the same server', () => {
  assert.deepEqual(commands.codex, ['execward', 'mcp']);
  assert.deepEqual(commands.claude, commands.codex);
  assert.deepEqual(commands.inspector, commands.codex);
});

test('tools/list offers the shell tool with Codex\'s schema', async () => {
  const s = await open({ name: 'list', via: 'claude' });
  assert.equal(s.client.getServerVersion().name, 'execward');
  const caps = s.client.getServerCapabilities();
  assert.ok(caps.tools);
  assert.ok(caps.logging);
  assert.deepEqual(caps.experimental['codex/sandbox-state'], { version: '1.0.0' });
  const { tools } = await s.client.listTools();
  assert.deepEqual(tools.map((t) => t.name), ['shell']);
  const t = tools[0];
  assert.match(t.description, /absolute path/);
  assert.deepEqual(Object.keys(t.inputSchema.properties).sort(), ['command', 'login', 'timeout_ms', 'workdir']);
  assert.deepEqual(t.inputSchema.required, ['command', 'workdir']);
  assert.deepEqual(t.outputSchema.required, ['exit_code', 'output', 'duration', 'timed_out']);
  assert.equal(t.annotations.readOnlyHint, false);
  assert.equal(t.annotations.destructiveHint, true);
  await s.close();
});

test('`echo hi && ls` runs and returns its output and exit 0', async () => {
  const s = await open({ name: 'echo' });
  fs.writeFileSync(path.join(s.world.work, 'marker.txt'), '');
  const r = await s.shell('echo hi && ls');
  const c = codexResult(r);
  assert.equal(r.isError, false);
  assert.equal(c.exit_code, 0);
  assert.equal(c.timed_out, false);
  assert.equal(c.output, 'hi\nmarker.txt\n');
  assert.equal(s.seen.elicitations.length, 0);
  // Every program was decided and recorded: echo is a builtin, ls is not.
  assert.ok(s.world.audit().some((a) => a.argv[0] === 'ls' && a.decision === 'allow'));
  await s.close();
});

test('a prompt rule, accepted: the command runs', async () => {
  const s = await open({ name: 'accept' });
  const file = path.join(s.world.work, 'accepted');
  const c = codexResult(await s.shell(`touch ${file}`));
  assert.equal(c.exit_code, 0, c.output);
  assert.ok(fs.existsSync(file));
  assert.equal(s.seen.elicitations.length, 1);
  const e = s.seen.elicitations[0];
  assert.equal(e.message, `Execution Permission Request: Allow agent to run \`/usr/bin/touch ${file}\` in \`${s.world.work}\`?`);
  // A prompt rule asks every time: "always" is not offered for it.
  assert.deepEqual(Object.keys(e.requestedSchema.properties), []);
  assertMcpForm(e.requestedSchema);
  // In the default workspace-write sandbox a rule's question, approved,
  // runs outside it: escalated, with its token and an exit record.
  const recs = s.world.audit().filter((a) => a.argv?.[0] === 'touch');
  assert.equal(recs[0].decision, 'escalate');
  assert.equal(recs[0].source, 'user');
  assert.match(recs[0].token, /^[0-9a-f]{32}$/);
  assert.equal(recs[1].type, 'exit');
  assert.equal(recs[1].token, recs[0].token);
  assert.deepEqual(recs[1].status, { code: 0 });
  await s.close();
});

for (const action of ['decline', 'cancel']) {
  test(`a prompt rule, ${action === 'cancel' ? 'cancelled' : 'declined'}: nothing runs and the output says denied`, async () => {
    const s = await open({ name: action, answer: () => ({ action }) });
    const file = path.join(s.world.work, action);
    const c = codexResult(await s.shell(`touch ${file}; echo after`));
    assert.ok(!fs.existsSync(file));
    assert.match(c.output, /execward: denied: touch/);
    assert.match(c.output, /after\n$/);
    assert.equal(s.seen.elicitations.length, 1);
    const rec = s.world.audit().find((a) => a.argv[0] === 'touch');
    assert.equal(rec.decision, 'deny');
    assert.match(rec.reason, action === 'decline' ? /declined by the user/ : /dismissed/);
    await s.close();
  });
}

test('a client without the elicitation capability: denied, and told why', async () => {
  const s = await open({ name: 'noelicit', elicit: false });
  const file = path.join(s.world.work, 'noelicit');
  const c = codexResult(await s.shell(`touch ${file}`));
  assert.ok(!fs.existsSync(file));
  assert.notEqual(c.exit_code, 0);
  assert.match(c.output, /execward: denied: touch .*elicitation/);
  assert.ok(!s.seen.in.some((m) => m.method === 'elicitation/create'));
  const rec = s.world.audit().find((a) => a.argv[0] === 'touch');
  assert.equal(rec.decision, 'deny');
  assert.match(rec.reason, /did not declare the elicitation capability/);
  await s.close();
});

test('a forbidden program is denied without asking', async () => {
  const s = await open({ name: 'forbidden' });
  const c = codexResult(await s.shell('shred --help'));
  assert.notEqual(c.exit_code, 0);
  assert.match(c.output, /execward: denied: shred .*forbidden by policy: never in tests/);
  assert.equal(s.seen.elicitations.length, 0);
  await s.close();
});

test('remember: always adds the rule, and the second call is not asked', async () => {
  const s = await open({ name: 'always', answer: () => ({ action: 'accept', content: { remember: 'always', reason: 'cleanup' } }) });
  const victim = path.join(s.world.work, 'victim');
  fs.writeFileSync(victim, 'x');
  // rm -f has no rule: the heuristics ask, and "always" makes a rule.
  let c = codexResult(await s.shell(`rm -f ${victim}`));
  assert.equal(c.exit_code, 0, c.output);
  assert.ok(!fs.existsSync(victim));
  assert.equal(s.seen.elicitations.length, 1);
  const props = s.seen.elicitations[0].requestedSchema.properties;
  assert.deepEqual(Object.keys(props), ['remember']);
  assert.deepEqual(props.remember.enum, ['once', 'always']);
  assert.equal(props.remember.default, 'once');
  assertMcpForm(s.seen.elicitations[0].requestedSchema);
  const rules = fs.readFileSync(s.world.amendFile, 'utf8');
  assert.ok(rules.includes(`prefix_rule(pattern=["rm", "-f", "${victim}"], decision="allow")`), rules);
  fs.writeFileSync(victim, 'x');
  c = codexResult(await s.shell(`rm -f ${victim}`));
  assert.equal(c.exit_code, 0, c.output);
  assert.ok(!fs.existsSync(victim));
  assert.equal(s.seen.elicitations.length, 1);
  await s.close();
});

test('the client\'s own timeout cancels the call: sleep 100 is killed, no answer follows', async () => {
  const s = await open({ name: 'cancel' });
  const pidfile = path.join(s.world.work, 'pid');
  await assert.rejects(s.shell(`sleep 100 & echo $! > ${pidfile}; wait`, {}, { timeout: 1500 }), (e) => e instanceof McpError && e.code === -32001);
  const pid = Number(fs.readFileSync(pidfile, 'utf8'));
  assert.ok(pid > 1);
  await waitFor(() => pidGone(pid), 5000, `sleep (pid ${pid}) to be killed`);
  const call = s.seen.out.find((m) => m.method === 'tools/call');
  assert.ok(s.seen.out.some((m) => m.method === 'notifications/cancelled' && m.params.requestId === call.id));
  await sleep(500);
  assert.ok(!s.seen.in.some((m) => m.id === call.id), 'a cancelled call gets no answer');
  // The server goes on serving.
  assert.equal(codexResult(await s.shell('echo still here')).output, 'still here\n');
  await s.close();
});

test('an approval that comes after the call was cancelled runs nothing', async () => {
  const s = await open({ name: 'late', answer: async () => (await sleep(2500), { action: 'accept', content: {} }) });
  const file = path.join(s.world.work, 'late');
  await assert.rejects(s.shell(`touch ${file}`, {}, { timeout: 1000 }), (e) => e.code === -32001);
  await sleep(3000);
  assert.equal(s.seen.elicitations.length, 1);
  assert.ok(!fs.existsSync(file));
  // The withdrawn prompt was announced to the client.
  const ask = s.seen.in.find((m) => m.method === 'elicitation/create');
  assert.ok(s.seen.in.some((m) => m.method === 'notifications/cancelled' && m.params.requestId === ask.id));
  await s.close();
});

test('a timeout kills the command: timed_out, exit code 124', async () => {
  const s = await open({ name: 'timeout' });
  const t0 = Date.now();
  const r = await s.shell('echo start; sleep 30; echo never', { timeout_ms: 500 });
  const c = codexResult(r);
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(c.timed_out, true);
  assert.equal(c.exit_code, 124);
  assert.equal(c.output, 'start\n');
  assert.equal(r.isError, true);
  await s.close();
});

test('the timeout is paused while the person is asked, and heartbeats keep the shim waiting', async () => {
  // The shim gives up on a silent broker after EXECWARD_TIMEOUT seconds.
  const s = await open({ name: 'paused', env: { EXECWARD_TIMEOUT: '1' }, answer: async () => (await sleep(2500), { action: 'accept', content: {} }) });
  const file = path.join(s.world.work, 'paused');
  const c = codexResult(await s.shell(`touch ${file} && echo done`, { timeout_ms: 1000 }));
  assert.equal(c.timed_out, false);
  assert.equal(c.output, 'done\n');
  assert.ok(fs.existsSync(file));
  await s.close();
});

test('output over the cap keeps its head and tail and marks the cut', async () => {
  const s = await open({ name: 'cap' });
  const c = codexResult(await s.shell('seq 1 400000'));
  assert.equal(c.exit_code, 0);
  assert.ok(c.output.startsWith('1\n2\n3\n'));
  assert.ok(c.output.endsWith('399999\n400000\n'));
  assert.match(c.output, /\[\.\.\. \d+ bytes of output cut by execward \.\.\.\]/);
  assert.ok(Buffer.byteLength(c.output) <= 1024 * 1024 + 200);
  assert.ok(Buffer.byteLength(c.output) > 1000 * 1000);
  await s.close();
});

test('two calls at once run side by side', async () => {
  const s = await open({ name: 'parallel' });
  const t0 = Date.now();
  const [a, b] = await Promise.all([s.shell('sleep 2; echo A'), s.shell('sleep 2; echo B')]);
  assert.equal(codexResult(a).output, 'A\n');
  assert.equal(codexResult(b).output, 'B\n');
  // One after the other would take 4 s at least.
  assert.ok(Date.now() - t0 < 3500, `took ${Date.now() - t0} ms`);
  await s.close();
});

test('progress notifications carry the bytes so far and the last line', async () => {
  const s = await open({ name: 'progress' });
  const progress = [];
  const r = await s.shell('for i in 1 2 3; do echo line$i; sleep 1; done', {}, { onprogress: (p) => progress.push(p) });
  assert.equal(codexResult(r).output, 'line1\nline2\nline3\n');
  assert.ok(progress.length >= 1 && progress.length <= 4, JSON.stringify(progress));
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress);
  assert.match(progress[0].message, /^line\d$/);
  await s.close();
});

test('logging/setLevel turns on notifications/message', async () => {
  const s = await open({ name: 'logging' });
  await s.shell('true');
  assert.equal(s.seen.logs.length, 0);
  await s.client.setLoggingLevel('info');
  await s.shell('true');
  assert.ok(s.seen.logs.some((l) => l.level === 'info' && /command \d+ started/.test(l.data)), JSON.stringify(s.seen.logs));
  await s.client.setLoggingLevel('error');
  const n = s.seen.logs.length;
  await s.shell('true');
  assert.equal(s.seen.logs.length, n);
  await s.close();
});

test('bad arguments are tool errors the model can read; unknown tools are protocol errors', async () => {
  const s = await open({ name: 'args' });
  let r = await s.client.callTool({ name: 'shell', arguments: { command: 'true', workdir: 'relative' } });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /workdir must be an absolute path/);
  r = await s.client.callTool({ name: 'shell', arguments: { command: 'true', workdir: path.join(s.world.work, 'missing') } });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /No such file or directory/);
  await assert.rejects(s.client.callTool({ name: 'nope', arguments: {} }), (e) => e.code === -32602);
  await s.close();
});
