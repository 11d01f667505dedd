// A wire tap for an MCP server on stdio: runs the command in argv, passes
// stdin and stdout through unchanged, and appends every line each way to
// the file in EW_TAP_LOG ({"dir":"in"|"out","msg":...}). The end-to-end
// tests put it on PATH as `execward`, so a host started with the README's
// command line talks to the real server through it, and the test can read
// what the host was sent (the elicitation form) and what it answered.
import { spawn } from 'node:child_process';
import fs from 'node:fs';

const log = process.env.EW_TAP_LOG;
const [cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });

function tap(dir) {
  let rest = '';
  return (chunk) => {
    rest += chunk.toString('utf8');
    let nl;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        msg = line;
      }
      if (log) fs.appendFileSync(log, `${JSON.stringify({ dir, msg })}\n`);
    }
  };
}

const fromHost = tap('in');
const toHost = tap('out');
process.stdin.on('data', (d) => {
  fromHost(d);
  child.stdin.write(d);
});
process.stdin.on('end', () => child.stdin.end());
child.stdout.on('data', (d) => {
  toHost(d);
  process.stdout.write(d);
});
// Signals a host sends its server reach the server.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, sig) => process.exit(sig ? 128 : code ?? 0));
