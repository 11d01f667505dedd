// The sandbox and escalation through a real MCP client (the official SDK),
// as Codex drives execward mcp: sandbox state updates, Codex's own
// `git init` test, confinement, the door, and what dies with a call.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';

import { execwardBin, libexecward, makeWorld, pidGone, readmeCommands, safeDir, skipUnless, sleep, waitFor } from './lib.mjs';

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
{
  // The sandbox must be enforceable here, or there is nothing to test.
  const p = spawnSync(execwardBin, ['run', '--sandbox', 'read-only', '--audit', '/dev/null', '--', '/bin/true'], { encoding: 'utf8' });
  skipUnless(!(p.status === 126 && /Landlock/.test(p.stderr)), p.stderr.trim());
}

const { Client, StdioClientTransport, ElicitRequestSchema, EmptyResultSchema, McpError } = sdk;
const commands = readmeCommands();
const PY = '/usr/bin/python3';
const worlds = [];
const transports = [];
const outsides = [];
after(async () => {
  await Promise.all(transports.map((t) => t.close().catch(() => {})));
  worlds.forEach((w) => w.cleanup());
  outsides.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

// Programs the rules below name (scripts: the policy sees their names).
const SCRIPTS = {
  ewexit: '#!/bin/sh\nexit "$1"\n',
  ewsig: '#!/bin/sh\nkill -"$1" $$\nsleep 5\nexit 99\n',
  ewwrite: "#!/bin/sh\nprintf '%s\\n' \"$2\" > \"$1\"\n",
  // Its pid in $1, then sleep with that pid (exec).
  ewsleep: '#!/bin/sh\necho $$ > "$1"\nexec sleep 100\n',
  ewtrap:
    '#!/bin/sh\ntrap \'echo INT > "$1"; exit 0\' INT\n' +
    'i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\necho none > "$1"\n',
  ewnet: `#!${PY}\nimport socket, sys\ns = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\ns.sendall(b'hello')\nprint('connected')\n`,
};
const ALLOW = ['ewexit', 'ewsig', 'ewwrite', 'ewsleep', 'ewtrap', 'ewnet', 'cat'];

/*
 * A server with the README's command line; rules (text) added to the
 * world's; scripts in world.dir/bin. answer(params) decides elicitations
 * (default: accept).
 */
async function open({ name, rules = '', args = [], answer } = {}) {
  const w = makeWorld(name);
  worlds.push(w);
  // Where the sandbox cannot write: escalation refuses anything else.
  const bin = safeDir('ew-mcp-bin-');
  outsides.push(bin);
  for (const [n, text] of Object.entries(SCRIPTS)) fs.writeFileSync(path.join(bin, n), text, { mode: 0o755 });
  const allow = ALLOW.map((n) => `prefix_rule(pattern=["${n}"], decision="allow")\n`).join('');
  fs.writeFileSync(path.join(w.rulesDir, 'sandbox.rules'), allow + rules, { mode: 0o644 });
  const [command, ...cargs] = commands.codex;
  const transport = new StdioClientTransport({ command, args: [...cargs, ...args], env: w.env, cwd: w.work, stderr: 'pipe' });
  transports.push(transport);
  const stderr = [];
  transport.stderr?.on('data', (d) => stderr.push(String(d)));
  const client = new Client({ name: 'execward-sandbox-tests', version: '0.1.0' }, { capabilities: { elicitation: {} } });
  const elicitations = [];
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    elicitations.push(req.params);
    return answer ? answer(req.params) : { action: 'accept', content: {} };
  });
  await client.connect(transport);
  // login: false, so no profile resets PATH; absolute paths anyway.
  const shell = (cmd, extra = {}, options = {}) =>
    client.callTool({ name: 'shell', arguments: { command: cmd, workdir: w.work, login: false, ...extra } }, undefined, { timeout: 30_000, ...options });
  const state = (params) => client.request({ method: 'codex/sandbox-state/update', params }, EmptyResultSchema);
  return { client, transport, shell, state, world: w, bin, elicitations, stderr };
}

function result(r) {
  return JSON.parse(r.content[0].text);
}

function outsideDir() {
  // Not under /tmp (writable in workspace-write), nor in the workspace.
  const d = fs.mkdtempSync('/var/tmp/ew-mcp-out-');
  outsides.push(d);
  return d;
}

// The escalate record of program base, and its exit record.
function escalated(w, base) {
  const recs = w.audit();
  const esc = recs.filter((r) => r.file && path.basename(r.file) === base && r.decision === 'escalate');
  assert.equal(esc.length, 1, JSON.stringify(recs));
  assert.match(esc[0].token, /^[0-9a-f]{32}$/);
  const exit = recs.find((r) => r.type === 'exit' && r.token === esc[0].token);
  return [esc[0], exit];
}

for (const action of ['accept', 'decline']) {
  test(`Codex's test: read-only sandbox, git init . prompted by a rule, ${action}ed`, async () => {
    const git = '/usr/bin/git';
    skipUnless(fs.existsSync(git), 'git is not installed');
    const s = await open({
      name: `git-${action}`,
      rules: 'prefix_rule(pattern=["git", "init"], decision="prompt", match=["git init ."])\n',
      answer: () => ({ action, content: {} }),
    });
    assert.deepEqual(await s.state({ sandboxPolicy: { type: 'read-only' }, sandboxCwd: s.world.work }), {});
    const dir = fs.mkdtempSync(path.join(s.world.dir, 'repo-'));
    const c = result(await s.shell('git init .', { workdir: dir }));
    assert.equal(s.elicitations.length, 1);
    assert.equal(s.elicitations[0].message, `Execution Permission Request: Allow agent to run \`${git} init .\` in \`${dir}\`?`);
    if (action === 'accept') {
      assert.equal(c.exit_code, 0, c.output);
      assert.match(c.output, new RegExp(`Initialized empty Git repository in ${dir}/\\.git/`));
      assert.ok(fs.existsSync(path.join(dir, '.git')));
      const [esc, exit] = escalated(s.world, 'git');
      assert.equal(esc.source, 'user');
      assert.deepEqual(exit.status, { code: 0 });
    } else {
      assert.notEqual(c.exit_code, 0);
      assert.ok(!fs.existsSync(path.join(dir, '.git')));
      assert.match(c.output, /execward: denied: git init \.: declined by the user/);
    }
    // Whatever the answer, the confined shell itself could not write there.
    const w = result(await s.shell('echo x > confined.txt', { workdir: dir }));
    assert.notEqual(w.exit_code, 0);
    assert.match(w.output, /Permission denied/);
    assert.match(w.output, /execward: note: the command ran in the sandbox, read-only/);
    assert.ok(!fs.existsSync(path.join(dir, 'confined.txt')));
    await s.client.close();
  });
}

test('workspace-write (the default): inside works, outside fails, an allow rule escalates', async () => {
  const s = await open({ name: 'ws' });
  const out = outsideDir();
  let c = result(await s.shell('echo in > inside.txt && cat inside.txt && ls'));
  assert.equal(c.exit_code, 0, c.output);
  assert.equal(c.output, 'in\ninside.txt\n');
  c = result(await s.shell(`echo out > ${out}/f`));
  assert.notEqual(c.exit_code, 0);
  assert.match(c.output, /Permission denied/);
  assert.match(c.output, new RegExp(`execward: note: the command ran in the sandbox, workspace-write \\(writable: ${s.world.work}`));
  assert.ok(!fs.existsSync(path.join(out, 'f')));
  // The same write by a program an allow rule covers.
  c = result(await s.shell(`${s.bin}/ewwrite ${out}/f hello`));
  assert.equal(c.exit_code, 0, c.output);
  assert.equal(fs.readFileSync(path.join(out, 'f'), 'utf8'), 'hello\n');
  const [esc, exit] = escalated(s.world, 'ewwrite');
  assert.equal(esc.source, 'rule');
  assert.deepEqual(exit.status, { code: 0 });
  assert.deepEqual(exit.argv, [`${s.bin}/ewwrite`, `${out}/f`, 'hello']);
  // cat, which an allow rule covers, was escalated too; ls ran in place,
  // and its record says in which sandbox.
  const recs = s.world.audit();
  assert.ok(recs.some((r) => r.argv?.[0] === 'cat' && r.decision === 'escalate'));
  const ls = recs.find((r) => r.argv?.[0] === 'ls');
  assert.equal(ls.decision, 'allow');
  assert.equal(ls.sandbox, 'workspace-write');
  assert.equal(ls.token, undefined);
  await s.client.close();
});

test('codex/sandbox-state/update: writable roots, network, and danger-full-access', async () => {
  const s = await open({ name: 'state' });
  const out = outsideDir();
  // Bad params are refused, and change nothing.
  await assert.rejects(s.state({ sandboxPolicy: { type: 'workspace-write', writable_roots: ['relative'] } }), (e) => e instanceof McpError && e.code === -32602);
  let c = result(await s.shell(`echo x > ${out}/a`));
  assert.notEqual(c.exit_code, 0);
  assert.deepEqual(await s.state({ sandboxPolicy: { type: 'workspace-write', writable_roots: [out], network_access: false } }), {});
  c = result(await s.shell(`echo x > ${out}/a && echo ok`));
  assert.equal(c.output, 'ok\n');
  // sandboxCwd is the workspace: the call's workdir elsewhere is not.
  const other = fs.mkdtempSync(path.join(s.world.dir, 'other-'));
  assert.deepEqual(await s.state({ sandboxPolicy: { type: 'workspace-write', exclude_slash_tmp: true, exclude_tmpdir_env_var: true }, sandboxCwd: out }), {});
  c = result(await s.shell('echo x > here; echo rc=$?', { workdir: other }));
  assert.match(c.output, /rc=1/);
  c = result(await s.shell(`echo x > ${out}/b && echo ok`, { workdir: other }));
  assert.equal(c.output, 'ok\n');
  // danger-full-access: no sandbox, and an allow rule runs in place.
  assert.deepEqual(await s.state({ sandboxPolicy: { type: 'danger-full-access' } }), {});
  c = result(await s.shell(`echo x > ${out}/c && ${s.bin}/ewexit 3; echo st=$?`));
  assert.equal(c.output, 'st=3\n');
  const recs = s.world.audit().filter((r) => r.file && path.basename(r.file) === 'ewexit');
  assert.deepEqual(recs.map((r) => r.decision), ['allow']);
  assert.ok(!recs[0].token && !recs[0].sandbox);
  await s.client.close();
});

test('TCP to 127.0.0.1 fails in the sandbox and works through an allow rule', async () => {
  const got = [];
  const server = net.createServer((sock) => sock.on('data', (d) => got.push(String(d))));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  try {
    const s = await open({ name: 'tcp' });
    let c = result(await s.shell(`${PY} -c "import socket; socket.create_connection(('127.0.0.1', ${port}))"`));
    assert.notEqual(c.exit_code, 0);
    assert.match(c.output, /PermissionError: \[Errno 13\] Permission denied/);
    assert.match(c.output, /no network/);
    c = result(await s.shell(`exec 3<>/dev/tcp/127.0.0.1/${port}`));
    assert.notEqual(c.exit_code, 0);
    assert.deepEqual(got, []);
    c = result(await s.shell(`${s.bin}/ewnet ${port}`));
    assert.equal(c.exit_code, 0, c.output);
    assert.equal(c.output, 'connected\n');
    await waitFor(() => got.join('') === 'hello', 5000, 'the escalated program to connect');
    escalated(s.world, 'ewnet');
    // network_access on: in place too.
    await s.state({ sandboxPolicy: { type: 'workspace-write', network_access: true } });
    c = result(await s.shell(`${PY} -c "import socket; socket.create_connection(('127.0.0.1', ${port})).sendall(b'!')"`));
    assert.equal(c.exit_code, 0, c.output);
    await s.client.close();
  } finally {
    server.close();
  }
});

test('the door: pipelines, exit 42, a signal death, SIGINT to the process group', async () => {
  const s = await open({ name: 'door' });
  let c = result(await s.shell("printf 'a\\nb\\n' | cat | wc -l"));
  assert.equal(c.output, '2\n');
  escalated(s.world, 'cat');
  c = result(await s.shell(`${s.bin}/ewexit 42`));
  assert.equal(c.exit_code, 42);
  c = result(await s.shell(`${s.bin}/ewsig TERM`));
  assert.equal(c.exit_code, 128 + 15);
  assert.deepEqual(escalated(s.world, 'ewsig')[1].status, { signal: 15 });
  // bash is its process group's leader: kill -INT -- -$$ reaches the
  // whole group, the helper among them, which passes it on.
  const marker = path.join(s.world.work, 'got');
  c = result(await s.shell(`(sleep 1; kill -INT -- -$$) & ${s.bin}/ewtrap ${marker}; echo after=$?`));
  assert.equal(fs.readFileSync(marker, 'utf8'), 'INT\n');
  assert.match(c.output, /after=0\n$/);
  await s.client.close();
});

test('escalated programs die with their call: timeout, cancellation, server exit', async () => {
  const s = await open({ name: 'kill' });
  // Timeout.
  let pidfile = path.join(s.world.work, 'pid1');
  const r = await s.shell(`${s.bin}/ewsleep ${pidfile}`, { timeout_ms: 1500 });
  assert.equal(result(r).timed_out, true);
  let pid = Number(fs.readFileSync(pidfile, 'utf8'));
  await waitFor(() => pidGone(pid), 5000, `escalated sleep ${pid} to be killed on timeout`);
  // Cancellation by the client.
  pidfile = path.join(s.world.work, 'pid2');
  await assert.rejects(s.shell(`${s.bin}/ewsleep ${pidfile}`, {}, { timeout: 1500 }), (e) => e instanceof McpError);
  pid = Number(fs.readFileSync(pidfile, 'utf8'));
  await waitFor(() => pidGone(pid), 5000, `escalated sleep ${pid} to be killed on cancel`);
  // The server's exit (the client goes away mid-call).
  pidfile = path.join(s.world.work, 'pid3');
  s.shell(`${s.bin}/ewsleep ${pidfile}`).catch(() => {});
  await waitFor(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').endsWith('\n'), 10000, 'the third sleep');
  pid = Number(fs.readFileSync(pidfile, 'utf8'));
  await s.transport.close();
  await waitFor(() => pidGone(pid), 5000, `escalated sleep ${pid} to be killed at server exit`);
  await sleep(300);
  // All three ends are recorded.
  const exits = s.world.audit().filter((x) => x.type === 'exit' && x.argv[0].endsWith('ewsleep'));
  assert.equal(exits.length, 3, JSON.stringify(exits));
  assert.ok(exits.every((x) => x.status.signal === 9 || x.status.signal === 15), JSON.stringify(exits));
});
