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
const builtBin = process.env.EXECWARD_BIN ?? path.join(top, 'build', 'broker', 'execward');
const builtLib = process.env.EXECWARD_LIBRARY ?? path.join(top, 'build', 'preload', 'libexecward.so');

// The rules every test server starts with.
export const RULES = `# tests/mcp: touch must be approved by the person.
prefix_rule(pattern=["touch"], decision="prompt", justification="tests ask before touching files")
prefix_rule(pattern=["shred"], decision="forbidden", justification="never in tests")
`;

/*
 * The command lines the README tells people to use: the Codex
 * config.toml snippet, the `claude mcp add` line and the Inspector line.
 * Returns { codex, claude, inspector }, each [command, ...args], and the
 * snippets as written: codexToml (the whole TOML block) and claudeLines
 * (the lines of the Claude Code sh block).
 */
export function readmeCommands() {
  const readme = fs.readFileSync(process.env.EXECWARD_README ?? path.join(top, 'README.md'), 'utf8');
  const block = readme.match(/```toml\n((?:[^`]|`(?!``))*?\[mcp_servers\.execward\](?:[^`]|`(?!``))*?)```/);
  assert.ok(block, 'README has the Codex config.toml snippet');
  const codexToml = block[1];
  const server = codexToml.slice(codexToml.indexOf('[mcp_servers.execward]'));
  const command = server.match(/^command = "([^"]+)"$/m);
  const argList = server.match(/^args = \[([^\]]*)\]$/m);
  assert.ok(command && argList, 'the Codex snippet has command and args');
  const args = [...argList[1].matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  const claudeBlock = readme.match(/```sh\n(claude mcp add execward -- [^\n]+\n(?:[^`]*\n)?)```/);
  assert.ok(claudeBlock, 'README has the Claude Code snippet');
  const claudeLines = claudeBlock[1].split('\n').filter(Boolean);
  const claude = claudeLines[0].match(/^claude mcp add execward -- (.+)$/);
  const inspector = readme.match(/^npx @modelcontextprotocol\/inspector (.+)$/m);
  assert.ok(inspector, 'README has the Inspector line');
  return {
    codex: [command[1], ...args],
    claude: claude[1].trim().split(/\s+/),
    inspector: inspector[1].trim().split(/\s+/),
    codexToml,
    claudeLines,
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
function safeChain(p) {
  p = fs.realpathSync(p);
  for (;;) {
    const st = fs.statSync(p);
    if ((st.uid !== 0 && st.uid !== process.getuid()) || (st.mode & 0o022) !== 0) return false;
    if (p === '/') return true;
    p = path.dirname(p);
  }
}

// Made under HOME when no other folder will do (a checkout under /tmp).
const privateBase = path.join(os.homedir(), '.cache', 'execward-tests');

export function safeDir(prefix) {
  // ~/.cache before the build tree: paths made here must stay short
  // (a session socket may live below them).
  const bases = [process.env.EW_TEST_SAFE_DIR, path.join(os.homedir(), '.cache'), path.dirname(builtBin)];
  let base = bases.find((b) => b && fs.existsSync(b) && fs.statSync(b).isDirectory() && safeChain(b));
  if (!base && safeChain(os.homedir())) {
    fs.mkdirSync(privateBase, { recursive: true, mode: 0o700 });
    if (safeChain(privateBase)) base = privateBase;
  }
  assert.ok(base, `no folder outside /tmp that only root and uid ${process.getuid()} may write (set EW_TEST_SAFE_DIR)`);
  return fs.mkdtempSync(path.join(base, prefix));
}

/*
 * execward, libexecward.so and execward-escalate where no sandbox can
 * replace them: the built ones when their folders are safe, else copies
 * in a private folder, laid out as in the build tree (execward finds the
 * library at ../preload from itself, as hosts that pass the server no
 * environment need). execward refuses to run what escalated programs
 * load from a place a sandboxed command could write (a checkout under
 * /tmp, which workspace-write lets commands write), and so would refuse
 * every sandboxed call.
 */
function safeTools() {
  if (!fs.existsSync(builtBin) || !fs.existsSync(builtLib) || (safeChain(path.dirname(builtBin)) && safeChain(path.dirname(builtLib))))
    return { bin: builtBin, lib: builtLib };
  const d = safeDir('ew-tools-');
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  const copy = (from, sub) => {
    const to = path.join(d, sub, path.basename(from));
    fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
    fs.copyFileSync(from, to);
    fs.chmodSync(to, 0o755);
    return to;
  };
  const helper = path.join(path.dirname(builtLib), 'execward-escalate');
  if (fs.existsSync(helper)) copy(helper, 'preload');
  return { bin: copy(builtBin, 'broker'), lib: copy(builtLib, 'preload') };
}
const tools = safeTools();
export const execwardBin = tools.bin;
export const libexecward = tools.lib;

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

/*
 * Assert that an elicitation form (requestedSchema) holds only what MCP
 * allows: at its top $schema, type, properties and required (Codex
 * refuses any other key, a "title" say, and answers cancel), and in each
 * property the keys of a PrimitiveSchemaDefinition (2025-06-18 and
 * 2025-11-25).
 */
export const FORM_KEYS = ['$schema', 'type', 'properties', 'required'];
const PROPERTY_KEYS = {
  string: ['type', 'title', 'description', 'minLength', 'maxLength', 'format', 'default', 'enum', 'enumNames', 'oneOf'],
  number: ['type', 'title', 'description', 'minimum', 'maximum', 'default'],
  integer: ['type', 'title', 'description', 'minimum', 'maximum', 'default'],
  boolean: ['type', 'title', 'description', 'default'],
  array: ['type', 'title', 'description', 'minItems', 'maxItems', 'items', 'default'],
};
export function assertMcpForm(schema) {
  assert.equal(typeof schema, 'object');
  for (const k of Object.keys(schema)) assert.ok(FORM_KEYS.includes(k), `requestedSchema has a key MCP does not allow: ${k}`);
  assert.equal(schema.type, 'object');
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const allowed = PROPERTY_KEYS[prop.type];
    assert.ok(allowed, `property ${name}: type ${prop.type} is not a primitive`);
    for (const k of Object.keys(prop)) assert.ok(allowed.includes(k), `property ${name} has a key MCP does not allow: ${k}`);
    if (prop.enum) assert.ok(prop.enum.every((v) => typeof v === 'string'), `property ${name}: enum of strings`);
  }
  for (const r of schema.required ?? []) assert.ok(r in schema.properties, `required names no property: ${r}`);
}
