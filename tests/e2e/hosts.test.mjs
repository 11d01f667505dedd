// execward mcp under the real hosts, Codex and Claude Code (pinned in
// package.json, installed by scripts/setup with npm ci), configured with
// the README's snippets as written, and driven by a fake model
// (fake-model.mjs) on 127.0.0.1 that calls the shell tool. Both hosts are
// kept off the network: telemetry, update checks and plugin syncs off.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

import { assertMcpForm, execwardBin, libexecward, pidGone, readmeCommands, safeDir, skipUnless, waitFor } from '../mcp/lib.mjs';
import { shellResult, startFakeModel, toolOutputs } from './fake-model.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, 'node_modules');
const codexBin = path.join(modules, '.bin', 'codex');
// The native binary the claude-code package installs (its bin/claude.exe
// is a copy made by its install script; the platform package has it too).
const claudeBin = [path.join(modules, '@anthropic-ai', `claude-code-linux-${os.arch()}`, 'claude'), path.join(modules, '.bin', 'claude')].find((p) => fs.existsSync(p));

skipUnless(fs.existsSync(execwardBin) && fs.existsSync(libexecward), `${execwardBin} or ${libexecward} not built`);
skipUnless(fs.existsSync(codexBin) && claudeBin, 'Codex and Claude Code are not installed (scripts/setup runs npm ci in tests/e2e)');
{
  const p = spawnSync(execwardBin, ['run', '--sandbox', 'read-only', '--audit', '/dev/null', '--', '/bin/true'], { encoding: 'utf8' });
  skipUnless(!(p.status === 126 && /Landlock/.test(p.stderr)), p.stderr.trim());
}

const readme = readmeCommands();
const TAP = path.join(here, 'tap.mjs');
// A host run, start to end, on a loaded 2-core machine.
const HOST_TIMEOUT_MS = 180_000;

const worlds = [];
after(() => {
  for (const w of worlds) fs.rmSync(w.dir, { recursive: true, force: true });
});

const RULES = `# tests/e2e
prefix_rule(pattern=["touch"], decision="prompt", justification="the e2e tests ask before touch")
`;

/*
 * A private world: HOME for the host (and so for execward: rules in
 * ~/.config/execward/rules, the audit in ~/.local/state), a workspace
 * with a git folder, a folder outside everything writable, and PATH with
 * execward (or, with tap, the wire tap under that name) first. HOME lies
 * outside /tmp, which workspace-write lets commands write: execward
 * refuses a sandbox that could write its rules.
 */
function makeWorld(name, { tap = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ew-e2e-${name}-`));
  // Short: the session socket lives under it (~/.local/state/execward/
  // run/execward.XXXXXX/in), within a socket address's 108 bytes.
  const homeDir = safeDir('e2e-');
  const home = homeDir;
  const ws = path.join(dir, 'ws');
  const rules = path.join(home, '.config', 'execward', 'rules');
  const outside = fs.mkdtempSync(`/var/tmp/ew-e2e-${name}-`);
  for (const d of [home, ws, rules, path.join(ws, '.git', 'hooks')]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(ws, '.git', 'config'), '[core]\n');
  fs.writeFileSync(path.join(rules, 'tests.rules'), RULES);
  let bin = path.dirname(execwardBin);
  const tapLog = path.join(dir, 'wire.jsonl');
  if (tap) {
    bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    // Hosts pass a server little of their environment: the log is named here.
    fs.writeFileSync(path.join(bin, 'execward'), `#!/bin/sh\nEW_TAP_LOG=${tapLog} exec ${process.execPath} ${TAP} ${execwardBin} "$@"\n`, { mode: 0o755 });
  }
  const w = {
    dir,
    home,
    ws,
    outside,
    tapLog,
    auditFile: path.join(home, '.local', 'state', 'execward', 'audit.jsonl'),
    env: {
      PATH: `${bin}:${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
      HOME: home,
      USER: process.env.USER ?? 'root',
      LOGNAME: process.env.LOGNAME ?? 'root',
      SHELL: '/bin/bash',
      TERM: 'dumb',
      LANG: 'C.UTF-8',
      EW_TAP_LOG: tapLog,
      EXECWARD_LIBRARY: libexecward,
      // What a host fetches besides its model (the Codex TUI's
      // announcement tip) goes to a port where nothing listens, not out.
      HTTPS_PROXY: 'http://127.0.0.1:9',
      HTTP_PROXY: 'http://127.0.0.1:9',
      NO_PROXY: '127.0.0.1,localhost',
    },
    audit() {
      if (!fs.existsSync(this.auditFile)) return [];
      return fs.readFileSync(this.auditFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    wire() {
      if (!fs.existsSync(tapLog)) return [];
      return fs.readFileSync(tapLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
  };
  worlds.push(w, { dir: outside }, { dir: homeDir });
  return w;
}

/*
 * Run a host to its end (or until until(proc) returns, then SIGINT to its
 * process group, as a terminal's Ctrl-C). Returns { code, signal,
 * stdout, stderr }.
 */
function run(cmd, args, { cwd, env, until } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {}
      reject(new Error(`${cmd} ${args.join(' ')}: no end in ${HOST_TIMEOUT_MS} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, HOST_TIMEOUT_MS);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (until)
      until(p).then(
        () => process.kill(-p.pid, 'SIGINT'),
        (e) => {
          process.kill(-p.pid, 'SIGKILL');
          reject(e);
        },
      );
  });
}

// --- Codex -----------------------------------------------------------------

/*
 * codex exec with the README's config.toml snippet as written, after the
 * fake model's provider (top-level keys must come before any table).
 */
function codexConfig(w, fake) {
  const codexHome = path.join(w.home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true });
  fs.writeFileSync(
    path.join(codexHome, 'config.toml'),
    `model = "fake-model"\nmodel_provider = "fake"\ncheck_for_update_on_startup = false\n\n` +
      `${readme.codexToml}\n` +
      `[model_providers.fake]\nname = "fake"\nbase_url = "${fake.url}/v1"\nwire_api = "responses"\nenv_key = "FAKE_MODEL_KEY"\n` +
      `\n[projects."${w.ws}"]\ntrust_level = "trusted"\n` +
      `\n[analytics]\nenabled = false\n` +
      `\n[tui]\nshow_tooltips = false\n`,
  );
  return { ...w.env, CODEX_HOME: codexHome, FAKE_MODEL_KEY: 'not-a-key' };
}
// No plugin marketplace sync (git ls-remote of a public repository), no
// app-server daemon left behind by the TUI.
const CODEX_OFFLINE = ['--disable', 'plugins', '--disable', 'remote_plugin', '--disable', 'apps', '--disable', 'daemon_auto_start'];

async function codex(w, { plan, sandbox, until, prompt = 'Run the commands.' }) {
  const fake = await startFakeModel({ plan });
  const env = codexConfig(w, fake);
  const args = ['exec', '--skip-git-repo-check', ...CODEX_OFFLINE, '-s', sandbox, prompt];
  try {
    const r = await run(codexBin, args, { cwd: w.ws, env, until });
    return { ...r, requests: fake.requests, outputs: toolOutputs(fake.requests).map((t) => shellResult(t).output) };
  } finally {
    await fake.close();
  }
}

test('Codex: the output comes back to the model', async () => {
  const w = makeWorld('codex-out');
  const r = await codex(w, { sandbox: 'workspace-write', plan: [{ command: 'echo marker-$((6 * 7)) && pwd', workdir: w.ws }] });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.outputs.length, 1, r.stderr);
  assert.match(r.outputs[0], new RegExp(`marker-42\\n${w.ws}`));
  assert.match(r.stdout, /All done\./);
  // The tools reached the model as Codex's namespace.
  const tools = r.requests.find((q) => q.path.endsWith('/responses')).body.tools;
  assert.ok(tools.some((t) => t.type === 'namespace' && t.name === 'mcp__execward'), JSON.stringify(tools));
});

test('Codex -s read-only: nothing is written in the workspace, /tmp or outside', async () => {
  const w = makeWorld('codex-ro');
  const tmp = fs.mkdtempSync('/tmp/ew-e2e-ro-tmp-');
  worlds.push({ dir: tmp });
  const cmd = `echo x > in.txt; echo x > .git/hooks/pre-commit; echo x > ${tmp}/t; echo x > ${w.outside}/o; echo rc=$?`;
  const r = await codex(w, { sandbox: 'read-only', plan: [{ command: cmd, workdir: w.ws }] });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.outputs[0], /in\.txt: Permission denied/);
  assert.match(r.outputs[0], /rc=1/);
  assert.deepEqual(fs.readdirSync(w.ws), ['.git']);
  assert.deepEqual(fs.readdirSync(path.join(w.ws, '.git', 'hooks')), []);
  assert.deepEqual(fs.readdirSync(tmp), []);
  assert.deepEqual(fs.readdirSync(w.outside), []);
});

test('Codex -s workspace-write: the workspace is written, .git and everything outside are not', async () => {
  const w = makeWorld('codex-ww');
  const cmd = `echo in > in.txt && cat in.txt; echo x >> .git/config; echo x > ${w.outside}/o; echo rc=$?`;
  const r = await codex(w, { sandbox: 'workspace-write', plan: [{ command: cmd, workdir: w.ws }] });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.outputs[0], /^[^]*in\n[^]*\.git\/config: Read-only file system[^]*Permission denied\nrc=1/);
  assert.equal(fs.readFileSync(path.join(w.ws, 'in.txt'), 'utf8'), 'in\n');
  assert.equal(fs.readFileSync(path.join(w.ws, '.git', 'config'), 'utf8'), '[core]\n');
  assert.deepEqual(fs.readdirSync(w.outside), []);
  const cat = w.audit().find((a) => a.argv?.[0] === 'cat');
  assert.equal(cat.sandbox, 'workspace-write');
});

test('codex exec: the form holds only what MCP allows, exec declines it, and the program does not run', async () => {
  const w = makeWorld('codex-prompt', { tap: true });
  const file = path.join(w.ws, 'touched');
  const r = await codex(w, { sandbox: 'workspace-write', plan: [{ command: `touch ${file}; echo rc=$?`, workdir: w.ws }] });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!fs.existsSync(file));
  assert.match(r.outputs[0], /execward: denied: touch [^:]*: declined by the user[^]*rc=1/);
  // What Codex was sent, and what it answered.
  const wire = w.wire();
  const ask = wire.find((m) => m.dir === 'out' && m.msg.method === 'elicitation/create');
  assert.ok(ask, JSON.stringify(wire));
  assertMcpForm(ask.msg.params.requestedSchema);
  assert.match(ask.msg.params.message, /^Execution Permission Request: Allow agent to run `\/usr\/bin\/touch /);
  const answer = wire.find((m) => m.dir === 'in' && m.msg.id === ask.msg.id);
  // codex exec declines every form without showing it (the TUI tests
  // below show it): hence the keys are checked above.
  assert.deepEqual(answer.msg.result, { action: 'decline' });
  const rec = w.audit().find((a) => a.argv?.[0] === 'touch');
  assert.equal(rec.decision, 'deny');
  assert.equal(rec.prompt.asked, true);
  assert.equal(rec.prompt.answer, 'no');
  // The per-call sandbox came with the call.
  const call = wire.find((m) => m.dir === 'in' && m.msg.method === 'tools/call');
  assert.equal(call.msg.params._meta['codex/sandbox-state'].permissionProfile.type, 'managed');
});

test('Codex: SIGINT to codex exec kills the running command', async () => {
  const w = makeWorld('codex-int');
  const pidfile = path.join(w.ws, 'pid');
  let pid;
  const r = await codex(w, {
    sandbox: 'workspace-write',
    plan: [{ command: `sleep 300 & echo $! > ${pidfile}; wait`, workdir: w.ws, timeout_ms: 600000 }],
    until: async () => {
      await waitFor(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').endsWith('\n'), HOST_TIMEOUT_MS / 2, 'the command to start');
      pid = Number(fs.readFileSync(pidfile, 'utf8'));
      assert.ok(!pidGone(pid));
    },
  });
  assert.notEqual(r.code, 0);
  await waitFor(() => pidGone(pid), 10_000, `sleep ${pid} to be killed`);
});

// --- The Codex TUI, in tmux -------------------------------------------------

const tmux = ['/usr/bin/tmux', '/bin/tmux'].find((p) => fs.existsSync(p));

/*
 * The interactive Codex in a tmux server of its own: a person's view.
 * Returns { screen(), keys(...k), fake, close() }.
 */
async function codexTui(w, { plan, sandbox = 'workspace-write' }) {
  const fake = await startFakeModel({ plan });
  const env = codexConfig(w, fake);
  const sock = `ew-e2e-${process.pid}-${path.basename(w.dir)}`;
  const envArgs = Object.entries({ ...env, TERM: 'xterm-256color' }).map(([k, v]) => `${k}=${v}`);
  const q = (a) => `'${String(a).replace(/'/g, "'\\''")}'`;
  const cmd = ['cd', q(w.ws), '&&', 'exec', 'env', '-i', ...envArgs.map(q), q(codexBin), ...CODEX_OFFLINE, '-s', sandbox, q('Run the commands.')].join(' ');
  const t = (...a) => spawnSync(tmux, ['-L', sock, ...a], { encoding: 'utf8' });
  const r = t('new-session', '-d', '-s', 'ew', '-x', '200', '-y', '50', cmd);
  assert.equal(r.status, 0, r.stderr);
  return {
    fake,
    screen: () => t('capture-pane', '-p', '-t', 'ew').stdout ?? '',
    keys: (...k) => t('send-keys', '-t', 'ew', ...k),
    async close() {
      t('kill-server');
      await fake.close();
    },
  };
}

test('the Codex TUI shows execward\'s form, and the program runs once it is submitted', async (t) => {
  if (!tmux) return t.skip('tmux is not installed (scripts/setup installs it)');
  const w = makeWorld('tui-form');
  const file = path.join(w.ws, 'touched');
  const tui = await codexTui(w, { plan: [{ command: `touch ${file}; echo rc=$?`, workdir: w.ws }] });
  try {
    // Codex refuses a form it cannot parse (a "title" at its top) and
    // answers cancel at once: a form on screen is one it parsed.
    await waitFor(() => /Execution Permission Request: Allow agent to run `\/usr\/bin\/touch/.test(tui.screen()), HOST_TIMEOUT_MS / 2, `the form on screen:\n${tui.screen()}`);
    assert.ok(!fs.existsSync(file));
    // Nothing to fill in: Enter allows (a key sent before the form has
    // the focus is lost, so again until it is gone).
    await waitFor(
      () => {
        if (toolOutputs(tui.fake.requests).length === 1) return true;
        if (/Execution Permission Request/.test(tui.screen())) tui.keys('Enter');
        return false;
      },
      HOST_TIMEOUT_MS / 2,
      `the result:\n${tui.screen()}`,
    );
    assert.equal(shellResult(toolOutputs(tui.fake.requests)[0]).output, 'rc=0\n');
    assert.ok(fs.existsSync(file));
    const rec = w.audit().find((a) => a.argv?.[0] === 'touch');
    assert.equal(rec.prompt.answer, 'yes');
  } finally {
    await tui.close();
  }
});

test('the Codex TUI: Esc on the form declines it; Esc while a command runs kills it', async (t) => {
  if (!tmux) return t.skip('tmux is not installed (scripts/setup installs it)');
  const w = makeWorld('tui-esc');
  const file = path.join(w.ws, 'touched');
  const pidfile = path.join(w.ws, 'pid');
  const tui = await codexTui(w, {
    plan: [
      { command: `touch ${file}; echo rc=$?`, workdir: w.ws },
      { command: `sleep 300 & echo $! > ${pidfile}; wait`, workdir: w.ws, timeout_ms: 600000 },
    ],
  });
  try {
    await waitFor(() => /Execution Permission Request/.test(tui.screen()), HOST_TIMEOUT_MS / 2, `the form on screen:\n${tui.screen()}`);
    tui.keys('Escape');
    await waitFor(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').endsWith('\n'), HOST_TIMEOUT_MS / 2, `the second command:\n${tui.screen()}`);
    assert.ok(!fs.existsSync(file));
    assert.match(shellResult(toolOutputs(tui.fake.requests)[0]).output, /execward: denied: touch [^:]*: (the user dismissed the prompt|declined by the user)[^]*rc=1/);
    const pid = Number(fs.readFileSync(pidfile, 'utf8'));
    assert.ok(!pidGone(pid));
    tui.keys('Escape');
    await waitFor(() => pidGone(pid), 30_000, `sleep ${pid} to be killed by Esc:\n${tui.screen()}`);
  } finally {
    await tui.close();
  }
});

// --- Claude Code -----------------------------------------------------------

/*
 * The README's lines as written: `claude mcp add ...` (extra server
 * arguments after it, as the README suggests for --sandbox read-only),
 * then claude -p with the README's flags.
 */
async function claude(w, { plan, serverArgs = [], settings, until, prompt = 'Run the commands.' }) {
  const fake = await startFakeModel({ plan });
  const env = {
    ...w.env,
    CLAUDE_CONFIG_DIR: path.join(w.home, '.claude'),
    ANTHROPIC_BASE_URL: fake.url,
    ANTHROPIC_API_KEY: 'sk-ant-not-a-key',
    // Off the network: no telemetry, error reports, updates or other
    // traffic but the model's.
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
  const [add, use] = readme.claudeLines;
  const addArgs = add.split(/\s+/).slice(1).concat(serverArgs);
  const a = spawnSync(claudeBin, addArgs, { cwd: w.ws, env, encoding: 'utf8', timeout: HOST_TIMEOUT_MS });
  assert.equal(a.status, 0, `${add}: ${a.stdout}${a.stderr}`);
  const args = ['-p', prompt, ...use.split(/\s+/).slice(1)];
  if (settings) args.push('--settings', JSON.stringify(settings));
  try {
    const r = await run(claudeBin, args, { cwd: w.ws, env, until });
    return { ...r, requests: fake.requests, outputs: toolOutputs(fake.requests).map((t) => shellResult(t).output) };
  } finally {
    await fake.close();
  }
}

test('Claude Code: the output comes back to the model', async () => {
  const w = makeWorld('claude-out');
  const r = await claude(w, { plan: [{ command: 'echo marker-$((6 * 7)) && pwd', workdir: w.ws }] });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.outputs.length, 1, `${r.stdout}${r.stderr}`);
  assert.match(r.outputs[0], new RegExp(`marker-42\\n${w.ws}`));
  assert.match(r.stdout, /All done\./);
});

test('Claude Code with --sandbox read-only: nothing is written in the workspace or outside', async () => {
  const w = makeWorld('claude-ro');
  const cmd = `echo x > in.txt; echo x > ${w.outside}/o; echo rc=$?`;
  const r = await claude(w, { serverArgs: ['--sandbox', 'read-only'], plan: [{ command: cmd, workdir: w.ws }] });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.outputs[0], /in\.txt: Permission denied[^]*rc=1/);
  assert.deepEqual(fs.readdirSync(w.ws), ['.git']);
  assert.deepEqual(fs.readdirSync(w.outside), []);
});

test('Claude Code, workspace-write (the default): the workspace is written, outside is not', async () => {
  const w = makeWorld('claude-ww');
  const cmd = `echo in > in.txt && cat in.txt; echo x > ${w.outside}/o; echo rc=$?`;
  const r = await claude(w, { plan: [{ command: cmd, workdir: w.ws }] });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.outputs[0], /in\n[^]*Permission denied[^]*rc=1/);
  assert.equal(fs.readFileSync(path.join(w.ws, 'in.txt'), 'utf8'), 'in\n');
  assert.deepEqual(fs.readdirSync(w.outside), []);
});

test('Claude Code -p: a prompt is answered cancel and the program does not run', async () => {
  const w = makeWorld('claude-prompt');
  const file = path.join(w.ws, 'touched');
  const r = await claude(w, { plan: [{ command: `touch ${file}; echo rc=$?`, workdir: w.ws }] });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!fs.existsSync(file));
  assert.match(r.outputs[0], /execward: denied: touch [^:]*: the user dismissed the prompt[^]*rc=1/);
  const rec = w.audit().find((a) => a.argv?.[0] === 'touch');
  assert.equal(rec.decision, 'deny');
  assert.equal(rec.prompt.answer, 'cancel');
});

test('Claude Code parses the form: an Elicitation hook sees it and accepts, and the program runs', async () => {
  const w = makeWorld('claude-form');
  const file = path.join(w.ws, 'touched');
  const seen = path.join(w.dir, 'hook-input.json');
  const hook = path.join(w.dir, 'hook.sh');
  fs.writeFileSync(hook, `#!/bin/sh\ncat > ${seen}\necho '{"hookSpecificOutput":{"hookEventName":"Elicitation","action":"accept","content":{}}}'\n`, { mode: 0o755 });
  const settings = { hooks: { Elicitation: [{ matcher: 'execward', hooks: [{ type: 'command', command: hook }] }] } };
  const r = await claude(w, { settings, plan: [{ command: `touch ${file}; echo rc=$?`, workdir: w.ws }] });
  assert.equal(r.code, 0, r.stderr);
  const input = JSON.parse(fs.readFileSync(seen, 'utf8'));
  assert.equal(input.hook_event_name, 'Elicitation');
  assert.equal(input.mcp_server_name, 'execward');
  assert.match(input.message, /^Execution Permission Request: Allow agent to run `\/usr\/bin\/touch /);
  assertMcpForm(input.requested_schema);
  assert.match(r.outputs[0], /rc=0/);
  assert.ok(fs.existsSync(file));
  const rec = w.audit().find((a) => a.argv?.[0] === 'touch');
  assert.equal(rec.prompt.answer, 'yes');
});

test('Claude Code: SIGINT to claude kills the running command', async () => {
  const w = makeWorld('claude-int');
  const pidfile = path.join(w.ws, 'pid');
  let pid;
  const r = await claude(w, {
    plan: [{ command: `sleep 300 & echo $! > ${pidfile}; wait`, workdir: w.ws, timeout_ms: 600000 }],
    until: async () => {
      await waitFor(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').endsWith('\n'), HOST_TIMEOUT_MS / 2, 'the command to start');
      pid = Number(fs.readFileSync(pidfile, 'utf8'));
      assert.ok(!pidGone(pid));
    },
  });
  await waitFor(() => pidGone(pid), 10_000, `sleep ${pid} to be killed`);
});
