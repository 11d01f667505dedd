// Codex 0.171's per-call permission profile (params._meta
// "codex/sandbox-state"), as a real MCP client sends it: each shape Codex
// sends mapped onto that call's sandbox, the read-only carve-outs inside
// the workspace attacked the way a hostile command would, profiles that
// cannot be mapped refused with nothing run, and the kernel refusing the
// mount namespace said out loud.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';

import { execwardBin, libexecward, makeWorld, readmeCommands, skipUnless } from './lib.mjs';

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

const { Client, StdioClientTransport, EmptyResultSchema } = sdk;
const commands = readmeCommands();
const worlds = [];
const transports = [];
const outsides = [];
after(async () => {
  await Promise.all(transports.map((t) => t.close().catch(() => {})));
  worlds.forEach((w) => w.cleanup());
  outsides.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

const bwrap = ['/usr/bin/bwrap', '/bin/bwrap'].find((p) => fs.existsSync(p));

/*
 * A server started as the README says (prefix: a command line to run it
 * under, such as bwrap); shell(cmd, profile) calls with Codex's _meta.
 */
async function open(name, { prefix = [], args = [], env = {} } = {}) {
  const w = makeWorld(name);
  worlds.push(w);
  const [command, ...cargs] = commands.codex;
  const argv = [...prefix, command, ...cargs, ...args];
  const transport = new StdioClientTransport({ command: argv[0], args: argv.slice(1), env: { ...w.env, ...env }, cwd: w.work, stderr: 'pipe' });
  transports.push(transport);
  const stderr = [];
  transport.stderr?.on('data', (d) => stderr.push(String(d)));
  const client = new Client({ name: 'execward-profile-tests', version: '0.1.0' }, { capabilities: {} });
  await client.connect(transport);
  const shell = async (cmd, state, extra = {}) => {
    const _meta = state === undefined ? {} : { 'codex/sandbox-state': state, 'codex/sandbox-state-meta': state, 'x-codex-turn-metadata': { sandbox_mode: 'test' } };
    const r = await client.callTool({ name: 'shell', arguments: { command: cmd, workdir: w.work, login: false, ...extra }, _meta }, undefined, { timeout: 60_000 });
    if (r.isError) return { isError: true, text: r.content[0].text };
    return JSON.parse(r.content[0].text);
  };
  return { client, transport, shell, world: w, stderr };
}

function outsideDir() {
  // Not under /tmp (writable in workspace-write), nor in the workspace.
  const d = fs.mkdtempSync('/var/tmp/ew-mcp-prof-');
  outsides.push(d);
  return d;
}

const special = (kind, access) => ({ path: { type: 'special', value: { kind } }, access });
const at = (p, access, skip) => ({ path: { type: 'path', path: p }, access, ...(skip ? { missing_path_behavior: 'skip' } : {}) });

// The shapes Codex 0.171 sends (recorded from codex exec -s ...).
function readOnly(ws) {
  return {
    permissionProfile: { type: 'managed', file_system: { type: 'restricted', entries: [special('root', 'read')] }, network: 'restricted' },
    codexLinuxSandboxExe: '/nonexistent/codex',
    sandboxCwd: `file://${ws}`,
    useLegacyLandlock: false,
    useMxc: false,
  };
}
function workspaceWrite(ws, { network = 'restricted', extra = [] } = {}) {
  const entries = [special('root', 'read'), at(ws, 'write'), ...extra, special('slash_tmp', 'write'), special('tmpdir', 'write')];
  for (const n of ['.git', '.agents', '.codex', '.aws']) entries.push(at(`${ws}/${n}`, 'read', true));
  return {
    permissionProfile: { type: 'managed', file_system: { type: 'restricted', entries }, network },
    codexLinuxSandboxExe: '/nonexistent/codex',
    sandboxCwd: `file://${ws}`,
    useLegacyLandlock: false,
    useMxc: false,
  };
}
const disabled = (ws) => ({ permissionProfile: { type: 'disabled' }, sandboxCwd: `file://${ws}`, useLegacyLandlock: false });

function repo(w) {
  fs.mkdirSync(path.join(w.work, '.git', 'hooks'), { recursive: true });
  fs.writeFileSync(path.join(w.work, '.git', 'config'), '[core]\n');
  fs.mkdirSync(path.join(w.work, '.codex'));
  fs.writeFileSync(path.join(w.work, '.codex', 'config.toml'), 'model = "x"\n');
}

test('read-only: nothing is written in the workspace, /tmp or outside', async () => {
  const s = await open('ro');
  const out = outsideDir();
  const tmp = fs.mkdtempSync('/tmp/ew-prof-ro-');
  outsides.push(tmp);
  const c = await s.shell(`echo x > in.txt; echo x > ${tmp}/t; echo x > ${out}/o; mkdir d; echo done`, readOnly(s.world.work));
  assert.equal(c.exit_code, 0, c.output);
  assert.match(c.output, /in\.txt: Permission denied/);
  assert.match(c.output, /done\n/);
  assert.deepEqual(fs.readdirSync(s.world.work), []);
  assert.deepEqual(fs.readdirSync(tmp), []);
  assert.deepEqual(fs.readdirSync(out), []);
  const rec = s.world.audit().find((r) => r.argv?.[0] === 'mkdir');
  assert.equal(rec.sandbox, 'read-only');
  await s.client.close();
});

test('workspace-write: the workspace and /tmp, nothing outside; .git and .codex stay read-only against every move', async () => {
  const s = await open('ww');
  repo(s.world);
  const out = outsideDir();
  const ws = s.world.work;
  const st = workspaceWrite(ws);
  let c = await s.shell(`echo in > in.txt && cat in.txt && t=$(mktemp) && echo t > $t && rm $t && echo tmp-ok`, st);
  assert.equal(c.output, 'in\ntmp-ok\n');
  c = await s.shell(`echo out > ${out}/f`, st);
  assert.notEqual(c.exit_code, 0);
  assert.match(c.output, /Permission denied/);
  assert.match(c.output, new RegExp(`read-only: ${ws}/\\.git, ${ws}/\\.codex`));
  assert.ok(!fs.existsSync(`${out}/f`));
  // The hostile list: write, create, delete, rename the carve-out or the
  // workspace around it, hard-link, symlink, a cwd inside it.
  const attacks = [
    'echo evil >> .git/config',
    'echo "#!/bin/sh" > .git/hooks/pre-commit',
    'rm -rf .git',
    'mv .git .git-aside && mkdir .git',
    `mv ${ws} ${ws}-aside && mkdir -p ${ws}/.git`,
    'ln .git/config linked && echo evil >> linked',
    'ln -s .git/hooks hooks-link && echo evil > hooks-link/post-checkout',
    'echo evil > .codex/config.toml',
    'mv .codex/config.toml .codex/x',
  ];
  for (const a of attacks) {
    c = await s.shell(`${a}; echo rc=$?`, st);
    assert.match(c.output, /rc=[1-9]/, `${a}: ${c.output}`);
  }
  c = await s.shell('echo evil > config; echo rc=$?', st, { workdir: `${ws}/.git` });
  assert.match(c.output, /Read-only file system\nrc=1/);
  assert.equal(fs.readFileSync(`${ws}/.git/config`, 'utf8'), '[core]\n');
  assert.deepEqual(fs.readdirSync(`${ws}/.git/hooks`), []);
  assert.equal(fs.readFileSync(`${ws}/.codex/config.toml`, 'utf8'), 'model = "x"\n');
  assert.ok(!fs.existsSync(`${ws}-aside`) && !fs.existsSync(`${ws}/.git-aside`));
  // Missing carve-outs (.agents, .aws: "skip") are no error.
  assert.ok(!fs.existsSync(`${ws}/.agents`));
  const rec = s.world.audit().find((r) => r.argv?.[0] === 'mktemp');
  assert.equal(rec.sandbox, 'workspace-write');
  await s.client.close();
});

test('a read-only path inside $TMPDIR, which only the server knows, stays read-only', async () => {
  const tmpdir = outsideDir();
  fs.mkdirSync(`${tmpdir}/keep`);
  const s = await open('tmpdir', { env: { TMPDIR: tmpdir } });
  const st = workspaceWrite(s.world.work, { extra: [at(`${tmpdir}/keep`, 'read')] });
  const c = await s.shell(`echo x > ${tmpdir}/free && echo x > ${tmpdir}/keep/f; echo rc=$?`, st);
  assert.match(c.output, /Read-only file system\nrc=1/);
  assert.ok(fs.existsSync(`${tmpdir}/free`));
  assert.ok(!fs.existsSync(`${tmpdir}/keep/f`));
  await s.client.close();
});

test('a carve-out that is a symbolic link is refused, and nothing runs', async () => {
  const s = await open('link');
  const real = path.join(s.world.work, 'real-git');
  fs.mkdirSync(real);
  fs.symlinkSync(real, path.join(s.world.work, '.git'));
  const c = await s.shell('touch ran', workspaceWrite(s.world.work));
  assert.equal(c.isError, true);
  assert.match(c.text, /cannot start .*\.git.*symbolic link/s);
  assert.ok(!fs.existsSync(path.join(s.world.work, 'ran')));
  await s.client.close();
});

test('a worktree\'s .git file: the gitdir it names inside the workspace is read-only too', async () => {
  const s = await open('worktree');
  const gitdir = path.join(s.world.work, 'main', '.git', 'worktrees', 'wt');
  fs.mkdirSync(gitdir, { recursive: true });
  const wt = path.join(s.world.work, 'wt');
  fs.mkdirSync(wt);
  fs.writeFileSync(path.join(wt, '.git'), 'gitdir: ../main/.git/worktrees/wt\n');
  const st = workspaceWrite(s.world.work, { extra: [at(`${wt}/.git`, 'read', true)] });
  const c = await s.shell(`echo x > ${gitdir}/HEAD; echo x > ${wt}/.git; echo x > ${wt}/ok && echo ok`, st);
  assert.match(c.output, /Read-only file system[^]*Read-only file system[^]*ok\n$/);
  assert.ok(!fs.existsSync(`${gitdir}/HEAD`));
  await s.client.close();
});

test('disabled: no sandbox; network enabled: TCP works, restricted: refused', async () => {
  const got = [];
  const server = net.createServer((sock) => sock.on('data', (d) => got.push(String(d))));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  try {
    const s = await open('net');
    const out = outsideDir();
    let c = await s.shell(`echo x > ${out}/free && echo ok`, disabled(s.world.work));
    assert.equal(c.output, 'ok\n');
    const py = `/usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', ${port})).sendall(b'hi')"`;
    c = await s.shell(py, workspaceWrite(s.world.work));
    assert.match(c.output, /PermissionError/);
    c = await s.shell(py, workspaceWrite(s.world.work, { network: 'enabled' }));
    assert.equal(c.exit_code, 0, c.output);
    server.close();
    assert.deepEqual(got, ['hi']);
    await s.client.close();
  } finally {
    server.close();
  }
});

test('profiles execward cannot enforce are refused with the reason, and nothing runs', async () => {
  const s = await open('refuse');
  const ws = s.world.work;
  const base = workspaceWrite(ws);
  const withEntries = (entries, more = {}) => ({ ...base, permissionProfile: { ...base.permissionProfile, file_system: { type: 'restricted', entries }, ...more } });
  const cases = [
    [withEntries([special('minimal', 'read'), at(ws, 'write')]), /cannot limit what a command reads/],
    [withEntries([special('root', 'read'), at('/etc', 'deny')]), /cannot deny reading/],
    [withEntries([special('root', 'read'), { path: { type: 'glob_pattern', pattern: `${ws}/**` }, access: 'write' }]), /cannot map a writable glob/],
    [withEntries([special('root', 'read'), at(ws, 'write'), { path: { type: 'glob_pattern', pattern: `${ws}/**/*.env` }, access: 'read' }]), /glob pattern read-only inside/],
    [withEntries([special('root', 'read'), special('home', 'write')]), /does not know the special path kind "home"/],
    [withEntries([special('root', 'read'), { path: { type: 'special', value: { kind: 'unknown', path: ':future' } }, access: 'write' }]), /special path kind "unknown"/],
    [withEntries([special('root', 'read'), at('relative/path', 'write')]), /absolute path or a file:\/\/ URI/],
    [withEntries([special('root', 'read'), at(`${ws}/../x`, 'write')]), /has \. or \.\. in it/],
    [withEntries([special('root', 'read'), at(ws, 'write'), at(`${ws}/.git`, 'read'), at(`${ws}/.git/objects`, 'write')]), /cannot make .*objects writable inside the read-only/],
    [withEntries([special('root', 'read'), at(ws, 'write'), { ...at(`${ws}/.git`, 'read'), missing_path_behavior: 'create' }]), /missing_path_behavior "create"/],
    [{ ...base, permissionProfile: { type: 'sandboxed-elsewhere' } }, /unknown permissionProfile.type/],
    [{ ...base, permissionProfile: { ...base.permissionProfile, network: 'proxied' } }, /unknown network "proxied"/],
    [{ ...base, permissionProfile: { ...base.permissionProfile, file_system: { type: 'partial' } } }, /unknown file_system.type/],
    [{ ...base, sandboxCwd: 'file://otherhost/ws' }, /sandboxCwd must be/],
    // A missing carve-out that is not marked "skip" is no mistake to ignore.
    [withEntries([special('root', 'read'), at(ws, 'write'), at(`${ws}/.secret`, 'read')]), /cannot keep .*\.secret read-only/],
  ];
  for (const [state, why] of cases) {
    const c = await s.shell('touch ran', state);
    assert.equal(c.isError, true, JSON.stringify(state));
    assert.match(c.text, why);
    assert.match(c.text, /^execward: the sandbox the client asked for cannot be enforced: |cannot start/);
  }
  // The two copies must agree.
  const r = await s.client.callTool({ name: 'shell', arguments: { command: 'touch ran', workdir: ws }, _meta: { 'codex/sandbox-state': base, 'codex/sandbox-state-meta': disabled(ws) } });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /differ/);
  assert.ok(!fs.existsSync(path.join(ws, 'ran')));
  assert.deepEqual(s.world.audit().filter((a) => a.argv?.[0] === 'touch'), []);
  await s.client.close();
});

test('a profile holds for its call only; codex/sandbox-state/update with a file:// sandboxCwd', async () => {
  const s = await open('percall');
  let c = await s.shell('echo x > a; echo rc=$?', readOnly(s.world.work));
  assert.match(c.output, /rc=1/);
  // No _meta: the session's sandbox (workspace-write by default).
  c = await s.shell('echo x > a; echo rc=$?');
  assert.match(c.output, /rc=0/);
  const other = fs.mkdtempSync(path.join(s.world.dir, 'other-'));
  assert.deepEqual(await s.client.request({ method: 'codex/sandbox-state/update', params: { sandboxPolicy: { type: 'workspace-write', exclude_slash_tmp: true, exclude_tmpdir_env_var: true }, sandboxCwd: `file://${other.replace(/-/g, '%2D')}` } }, EmptyResultSchema), {});
  c = await s.shell(`echo x > ${other}/b; echo x > c; echo rc=$?`);
  assert.match(c.output, /rc=1/);
  assert.ok(fs.existsSync(`${other}/b`));
  await s.client.close();
});

test('not root: the carve-outs through a user namespace (the server as uid 1000 under bwrap)', async (t) => {
  if (!bwrap || process.getuid() !== 0) return t.skip('needs bwrap and root (CI has both)');
  const s = await open('userns', { prefix: [bwrap, '--dev-bind', '/', '/', '--unshare-user', '--uid', '1000', '--gid', '1000', '--'] });
  repo(s.world);
  const c = await s.shell('id -u; echo evil >> .git/config; mv .git .g; echo x > f && echo ok', workspaceWrite(s.world.work));
  assert.match(c.output, /^1000\n.*Read-only file system\n.*busy\nok\n$/s);
  assert.equal(fs.readFileSync(`${s.world.work}/.git/config`, 'utf8'), '[core]\n');
  // Files made in the sandbox keep their owner (our uid maps to itself).
  assert.equal(fs.statSync(`${s.world.work}/f`).uid, 0);
  await s.client.close();
});

test('the kernel refuses the mount namespace: the command runs, and the result and the audit say what was not protected', async (t) => {
  if (!bwrap || process.getuid() !== 0) return t.skip('needs bwrap and root (CI has both)');
  const s = await open('refused', { prefix: [bwrap, '--dev-bind', '/', '/', '--unshare-user', '--disable-userns', '--cap-drop', 'ALL', '--'] });
  repo(s.world);
  const ws = s.world.work;
  const c = await s.shell('cat .git/config >/dev/null; echo changed >> .git/config; echo rc=$?', workspaceWrite(ws));
  assert.match(c.output, /rc=0/);
  assert.match(c.output, new RegExp(`execward: warning: the sandbox could not keep ${ws}/\\.git, ${ws}/\\.codex read-only \\(unshare .*\\): they were writable for this command`));
  const rec = s.world.audit().find((r) => r.argv?.[0] === 'cat');
  assert.match(rec.sandbox, new RegExp(`^workspace-write \\(not read-only as asked: ${ws}/\\.git, ${ws}/\\.codex: unshare`));
  assert.ok(s.stderr.join('').includes('could not keep'));
  await s.client.close();
});

test('--login: the default of a call that does not say (bash -lc as in Codex, or bash -c)', async () => {
  const probe = 'shopt -q login_shell && echo login || echo plain';
  for (const [args, want] of [[[], 'login'], [['--login', 'false'], 'plain'], [['--login', 'true'], 'login']]) {
    const s = await open(`login${args.length}`, { args });
    const { client, shell } = s;
    // No login argument: the server's default; an explicit one wins.
    let c = await shell(probe, undefined, { login: undefined });
    assert.equal(c.output, `${want}\n`, JSON.stringify(args));
    c = await shell(probe, undefined, { login: want !== 'login' });
    assert.equal(c.output, want === 'login' ? 'plain\n' : 'login\n');
    const { tools } = await client.listTools();
    assert.match(tools[0].inputSchema.properties.login.description, want === 'login' ? /defaults to true/ : /defaults to false/);
    await client.close();
  }
});
