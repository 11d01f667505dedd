// Attacks on the sandbox's one door through a real MCP client (the official
// SDK), as issue 11 found them: a program named after an allowed one, the
// caller's environment and the workspace's git configuration, the session
// socket, and "always" answers. In read-only and workspace-write, each
// call checks that nothing was written outside, no TCP connection was
// made, no forbidden program ran, and what the audit log says.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';

import { execwardBin, libexecward, makeWorld, readmeCommands, safeDir, skipUnless, sleep } from './lib.mjs';

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
  const p = spawnSync(execwardBin, ['run', '--sandbox', 'read-only', '--audit', '/dev/null', '--', '/bin/true'], { encoding: 'utf8' });
  skipUnless(!(p.status === 126 && /Landlock/.test(p.stderr)), p.stderr.trim());
}

const { Client, StdioClientTransport, ElicitRequestSchema, EmptyResultSchema } = sdk;
const commands = readmeCommands();
const PY = '/usr/bin/python3';
const MODES = ['read-only', 'workspace-write'];
const cleanups = [];
after(async () => {
  for (const f of cleanups.reverse()) await f();
});

const RULES = `
prefix_rule(pattern=["ls"], decision="allow")
prefix_rule(pattern=["cat"], decision="allow")
prefix_rule(pattern=["git", "status"], decision="allow")
prefix_rule(pattern=["ewok"], decision="allow")
prefix_rule(pattern=["id"], decision="forbidden", justification="tests")
`;

// A TCP server on 127.0.0.1 that counts who connected.
async function listener() {
  const got = [];
  const server = net.createServer((sock) => {
    got.push(1);
    sock.destroy();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { port: server.address().port, got };
}

/*
 * A server with the README's command line, our rules, ewok in a folder no
 * sandbox can write, a workspace outside /tmp (so what is refused is
 * refused for being the workspace's) and a folder outside it all.
 */
async function open(name, { answer } = {}) {
  const w = makeWorld(name);
  cleanups.push(() => w.cleanup());
  fs.writeFileSync(path.join(w.rulesDir, 'escape.rules'), RULES, { mode: 0o644 });
  const bin = safeDir('ew-mcp-esc-bin-');
  const ws = safeDir('ew-mcp-esc-ws-');
  const outside = fs.mkdtempSync('/var/tmp/ew-mcp-esc-out-');
  fs.chmodSync(outside, 0o777);
  for (const d of [bin, ws, outside]) cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  fs.writeFileSync(path.join(bin, 'ewok'), '#!/bin/sh\necho ewok ran\n', { mode: 0o755 });
  w.env.PATH = `${bin}:${w.env.PATH}`;
  const [command, ...args] = commands.codex;
  const transport = new StdioClientTransport({ command, args, env: w.env, cwd: w.work, stderr: 'pipe' });
  cleanups.push(() => transport.close().catch(() => {}));
  const client = new Client({ name: 'execward-escape-tests', version: '0.1.0' }, { capabilities: { elicitation: {} } });
  const elicitations = [];
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    elicitations.push(req.params);
    return answer ? answer(req.params) : { action: 'decline' };
  });
  await client.connect(transport);
  const net_ = await listener();
  const shell = async (cmd, extra = {}) => {
    const r = await client.callTool({ name: 'shell', arguments: { command: cmd, workdir: ws, login: false, ...extra } }, undefined, { timeout: 60_000 });
    return r.isError && !r.structuredContent ? { error: r.content[0].text } : JSON.parse(r.content[0].text);
  };
  const mode = (m, extra = {}) =>
    client.request({ method: 'codex/sandbox-state/update', params: { sandboxPolicy: { type: m, ...extra }, sandboxCwd: ws } }, EmptyResultSchema);
  return { client, shell, mode, world: w, ws, outside, net: net_, elicitations };
}

// Nothing written outside, no TCP connection made.
async function nothingEscaped(s) {
  assert.deepEqual(fs.readdirSync(s.outside), []);
  await sleep(200);
  assert.equal(s.net.got.length, 0, 'a TCP connection was made');
}

function evil(s, tag) {
  return `#!/bin/bash\necho ${tag} > ${s.outside}/${tag}\nexec 3<>/dev/tcp/127.0.0.1/${s.net.port}\n`;
}

// Records of what pred picks: each ran inside, saying why it did not leave.
function refused(s, pred) {
  const recs = s.world.audit().filter(pred);
  assert.ok(recs.length > 0, JSON.stringify(s.world.audit()));
  for (const r of recs) {
    assert.equal(r.decision, 'allow', JSON.stringify(r));
    assert.ok(r.sandbox, JSON.stringify(r));
    assert.match(r.escalation, /^refused: /);
    assert.equal(r.token, undefined);
  }
  return recs;
}

const quote = (s) => `'${s.replaceAll("'", "'\\''")}'`;

for (const m of MODES) {
  test(`by name (${m}): a script named ls, a link to a forbidden program`, async () => {
    const s = await open(`name-${m}`);
    assert.deepEqual(await s.mode(m), {});
    let c;
    const script = evil(s, 'ls');
    if (m === 'workspace-write') {
      c = await s.shell(`mkdir -p .x && printf '%s' ${quote(script)} > .x/ls && chmod +x .x/ls; ./.x/ls; echo rc=$?`);
    } else {
      // Read-only: an earlier workspace-write call put it there.
      fs.mkdirSync(path.join(s.ws, '.x'));
      fs.writeFileSync(path.join(s.ws, '.x', 'ls'), script, { mode: 0o755 });
      c = await s.shell('./.x/ls; echo rc=$?');
    }
    assert.match(c.output, /rc=1\n$/);
    await nothingEscaped(s);
    const recs = refused(s, (r) => r.file === `${s.ws}/.x/ls`);
    assert.equal(recs.at(-1).escalation, `refused: ${s.ws}/.x/ls lies in the sandbox's ${m === 'read-only' ? 'workspace' : 'writable root'} ${s.ws}`);
    // cat, which a rule allows, as a link to id, which a rule forbids.
    fs.symlinkSync('/usr/bin/id', path.join(s.ws, 'cat'));
    c = await s.shell('./cat; echo rc=$?');
    assert.match(c.output, /execward: denied: \.\/cat: forbidden by policy: tests/);
    assert.doesNotMatch(c.output, /uid=/);
    const cat = s.world.audit().filter((r) => r.called === './cat');
    assert.deepEqual(cat.map((r) => [r.decision, r.real]), [['deny', '/usr/bin/id']]);
    // The control: ewok, allowed and safe, still leaves.
    c = await s.shell('ewok </dev/null');
    assert.equal(c.output, 'ewok ran\n');
    assert.ok(s.world.audit().some((r) => r.decision === 'escalate' && r.file.endsWith('/ewok')));
  });

  test(`by environment and configuration (${m}): git`, async () => {
    const git = '/usr/bin/git';
    skipUnless(fs.existsSync(git), 'git is not installed');
    const s = await open(`env-${m}`);
    assert.deepEqual(await s.mode(m), {});
    const repo = path.join(s.ws, 'repo');
    assert.equal(spawnSync(git, ['init', '-q', repo]).status, 0);
    // The caller's GIT_CONFIG_* does not reach an escalated git.
    let c = await s.shell(
      `cd repo && GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor GIT_CONFIG_VALUE_0=${quote(`echo x > ${s.outside}/env; false`)} git status >/dev/null; echo rc=$?`,
    );
    assert.match(c.output, /rc=0\n$/, c.output);
    await nothingEscaped(s);
    // The workspace's .git/config: the hook runs, confined.
    fs.appendFileSync(path.join(repo, '.git', 'config'), `[core]\n\tfsmonitor = "echo x > ${s.outside}/cfg; false"\n`);
    c = await s.shell('cd repo && git status >/dev/null; echo rc=$?');
    assert.match(c.output, /rc=0\n$/, c.output);
    assert.match(c.output, /Permission denied/);
    await nothingEscaped(s);
    const recs = s.world.audit();
    assert.equal(recs.filter((r) => r.decision === 'escalate' && r.argv[0] === 'git').length, 2);
    const hooks = recs.filter((r) => r.via === 'execve' && r.argv?.some((a) => a.includes(`${s.outside}/cfg`)));
    assert.ok(hooks.length > 0, JSON.stringify(recs));
    for (const h of hooks) {
      assert.equal(h.decision, 'allow');
      assert.equal(h.sandbox, m);
      assert.match(h.confined, /asked for by a program outside the sandbox/);
    }
  });

  test(`by the socket (${m}): it cannot be renamed or replaced, and the session goes on`, async () => {
    const s = await open(`sock-${m}`);
    assert.deepEqual(await s.mode(m), {});
    const attack = [
      'import os, socket',
      'p = os.environ["EXECWARD_SOCKET"]; d = os.path.dirname(p); out = []',
      'for w, f in (("rename", lambda: os.rename(p, p + ".x")), ("unlink", lambda: os.unlink(p)),',
      '             ("bind", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(d + "/evil"))):',
      '    try:',
      '        f(); out.append(w + "=done")',
      '    except OSError as e:',
      '        out.append(w + "=" + str(e.errno))',
      'print(" ".join(out))',
    ].join('\n');
    const c = await s.shell(`${PY} -c ${quote(attack)}; ewok </dev/null`);
    assert.equal(c.output, 'rename=13 unlink=13 bind=13\newok ran\n');
    assert.ok(s.world.audit().some((r) => r.decision === 'escalate' && r.file.endsWith('/ewok')));
    await nothingEscaped(s);
  });
}

test('a writable root that holds the session socket: the call is refused', async () => {
  const s = await open('root');
  const runtime = s.world.env.XDG_RUNTIME_DIR;
  assert.deepEqual(await s.mode('workspace-write', { writable_roots: [runtime] }), {});
  const c = await s.shell('ewok; echo ran');
  assert.ok(c.error, JSON.stringify(c));
  assert.match(c.error, /the session's socket folder .* lies in the sandbox's writable root/);
  assert.match(c.error, /set XDG_RUNTIME_DIR/);
  assert.ok(!s.world.audit().some((r) => r.argv?.[0] === 'ewok'));
  // Read-only writes nowhere: fine there.
  assert.deepEqual(await s.mode('read-only'), {});
  assert.equal((await s.shell('ewok </dev/null')).output, 'ewok ran\n');
});

test('a writable root that holds the rules: the call is refused', async () => {
  const s = await open('rules-root');
  // The client makes the folder of the rules (and of "always") writable.
  assert.deepEqual(await s.mode('workspace-write', { writable_roots: [path.dirname(s.world.rulesDir)] }), {});
  const c = await s.shell('ewok; echo ran');
  assert.ok(c.error, JSON.stringify(c));
  assert.match(c.error, /the rules .* lie in the sandbox's writable root .*, where a sandboxed command could write its own allow rules/);
  assert.ok(!s.world.audit().some((r) => r.argv?.[0] === 'ewok'));
});

test('"always" makes a rule for the program by its names, not for a planted one', async () => {
  const s = await open('always', { answer: () => ({ action: 'accept', content: { remember: 'always' } }) });
  assert.deepEqual(await s.mode('workspace-write'), {});
  const victim = path.join(s.outside, 'victim');
  fs.writeFileSync(victim, 'x');
  fs.chmodSync(victim, 0o666);
  // rm -f has no rule: the heuristics ask; approved, it runs confined.
  let c = await s.shell(`rm -f ${victim}; echo rc=$?`);
  assert.equal(s.elicitations.length, 1);
  assert.match(c.output, /rc=1\n$/);
  assert.ok(fs.existsSync(victim));
  assert.match(fs.readFileSync(s.world.amendFile, 'utf8'), /prefix_rule\(pattern=\["rm", "-f", /);
  // The rule now lets the real rm out; a script named rm stays in.
  fs.mkdirSync(path.join(s.ws, '.x'));
  fs.writeFileSync(path.join(s.ws, '.x', 'rm'), `#!/bin/sh\necho pwned > ${s.outside}/pwned\n`, { mode: 0o755 });
  c = await s.shell(`./.x/rm -f ${victim}; echo rc=$?`);
  assert.ok(!fs.existsSync(path.join(s.outside, 'pwned')));
  refused(s, (r) => r.file === `${s.ws}/.x/rm`);
  c = await s.shell(`rm -f ${victim}; echo rc=$?`);
  assert.match(c.output, /rc=0\n$/);
  assert.ok(!fs.existsSync(victim));
  assert.equal(s.elicitations.length, 1);
});
