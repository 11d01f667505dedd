// Shared by the MCP tests: the server command (read from the README), a
// private home with rules, and small helpers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const top = path.resolve(here, '..', '..');

// meson passes the built program and shim; run by hand, use build/.
export const execwardBin = process.env.EXECWARD_BIN ?? path.join(top, 'build', 'broker', 'execward');
export const libexecward = process.env.EXECWARD_LIBRARY ?? path.join(top, 'build', 'preload', 'libexecward.so');

// The rules every test server starts with.
export const RULES = `# tests/mcp: touch must be approved by the person.
prefix_rule(pattern=["touch"], decision="prompt", justification="tests ask before touching files")
prefix_rule(pattern=["shred"], decision="forbidden", justification="never in tests")
`;

/*
 * The command lines the README tells people to use: the Codex TOML
 * snippet, the `claude mcp add` line and the Inspector line. Returns
 * { codex, claude, inspector }, each [command, ...args].
 */
export function readmeCommands() {
  const readme = fs.readFileSync(process.env.EXECWARD_README ?? path.join(top, 'README.md'), 'utf8');
  const toml = readme.match(/```toml\n\[mcp_servers\.execward\]\ncommand = "([^"]+)"\nargs = \[([^\]]*)\]\n```/);
  assert.ok(toml, 'README has the Codex config.toml snippet');
  const args = [...toml[2].matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  const claude = readme.match(/^claude mcp add execward -- (.+)$/m);
  assert.ok(claude, 'README has the claude mcp add line');
  const inspector = readme.match(/^npx @modelcontextprotocol\/inspector (.+)$/m);
  assert.ok(inspector, 'README has the Inspector line');
  return {
    codex: [toml[1], ...args],
    claude: claude[1].trim().split(/\s+/),
    inspector: inspector[1].trim().split(/\s+/),
  };
}

/*
 * A private world for one server: HOME (so no login profile of the
 * machine's runs), rules in XDG_CONFIG_HOME, the audit log in
 * XDG_STATE_HOME, and execward first on PATH as the README says.
 */
export function makeWorld(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ew-mcp-${name}-`));
  // The rules and the session sockets' folder: private, and outside
  // /tmp, which the sandbox may write (execward refuses a sandboxed call
  // whose socket or rules it could replace).
  const outer = fs.mkdtempSync(`/var/tmp/ew-mcp-${name}-`);
  const home = path.join(dir, 'home');
  const config = path.join(outer, 'config');
  const rules = path.join(config, 'execward', 'rules');
  const state = path.join(dir, 'state');
  const work = path.join(dir, 'work');
  const runtime = path.join(outer, 'run');
  for (const d of [home, rules, state, work, runtime]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(rules, 'tests.rules'), RULES, { mode: 0o644 });
  const env = {
    PATH: `${path.dirname(execwardBin)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    USER: process.env.USER ?? 'root',
    LOGNAME: process.env.LOGNAME ?? 'root',
    SHELL: '/bin/bash',
    TERM: 'dumb',
    LANG: 'C.UTF-8',
    XDG_CONFIG_HOME: config,
    XDG_STATE_HOME: state,
    XDG_RUNTIME_DIR: runtime,
    EXECWARD_LIBRARY: libexecward,
  };
  return {
    dir,
    work,
    env,
    rulesDir: rules,
    amendFile: path.join(rules, 'default.rules'),
    auditFile: path.join(state, 'execward', 'audit.jsonl'),
    audit() {
      if (!fs.existsSync(this.auditFile)) return [];
      return fs.readFileSync(this.auditFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(outer, { recursive: true, force: true });
    },
  };
}

/*
 * A fresh private folder for programs an allow rule escalates: execward
 * escalates only a program the sandbox cannot have written or replaced,
 * in folders that belong to root or to us and that nobody else may write
 * (so not under /tmp). The caller removes it.
 */
export function safeDir(prefix) {
  const safe = (p) => {
    p = fs.realpathSync(p);
    for (;;) {
      const st = fs.statSync(p);
      if ((st.uid !== 0 && st.uid !== process.getuid()) || (st.mode & 0o022) !== 0) return false;
      if (p === '/') return true;
      p = path.dirname(p);
    }
  };
  const bases = [process.env.EW_TEST_SAFE_DIR, path.dirname(execwardBin), path.join(os.homedir(), '.cache')];
  const base = bases.find((b) => b && fs.existsSync(b) && fs.statSync(b).isDirectory() && safe(b));
  assert.ok(base, `no folder outside /tmp that only root and uid ${process.getuid()} may write (set EW_TEST_SAFE_DIR)`);
  return fs.mkdtempSync(path.join(base, prefix));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Is pid gone (or a zombie nobody has reaped yet)?
export function pidGone(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

export async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await sleep(50);
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

// Skip (exit 77 for meson) when something the tests need is missing.
export function skipUnless(ok, why) {
  if (!ok) {
    console.log(`# SKIP ${why}`);
    process.exit(77);
  }
}
