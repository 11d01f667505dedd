// A fake model server for the end-to-end tests: the OpenAI Responses API
// (Codex) and the Anthropic Messages API (Claude Code), both streamed as
// server-sent events, on 127.0.0.1. Its "model" follows a plan: it calls
// the shell tool once for each command in the plan, one per turn, then
// answers with text. Every request is kept, so a test can read what the
// host sent back to the model (the tool's output).
import http from 'node:http';

// The tool as each host names it.
export const CODEX_NAMESPACE = 'mcp__execward';
export const CLAUDE_TOOL = 'mcp__execward__shell';

function sse(res, events) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'close' });
  for (const [event, data] of events) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  res.end();
}

// Does a Responses request offer our tool (a namespace with a tool shell)?
function codexOffers(body) {
  return (body.tools ?? []).some(
    (t) => (t.type === 'namespace' && t.name === CODEX_NAMESPACE && (t.tools ?? []).some((x) => x.name === 'shell')) || t.name === `${CODEX_NAMESPACE}__shell`,
  );
}

function codexReply(fake, body, res) {
  const input = Array.isArray(body.input) ? body.input : [];
  const done = input.filter((i) => i.type === 'function_call_output').length;
  const id = `resp_${++fake.seq}`;
  let item;
  if (codexOffers(body) && done < fake.plan.length) {
    const step = fake.plan[done];
    item = {
      type: 'function_call',
      id: `fc_${fake.seq}`,
      call_id: `call_${fake.seq}`,
      namespace: CODEX_NAMESPACE,
      name: 'shell',
      arguments: JSON.stringify(step),
      status: 'completed',
    };
  } else {
    item = { type: 'message', id: `msg_${fake.seq}`, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: fake.finalText, annotations: [] }] };
  }
  const usage = { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 };
  sse(res, [
    ['response.created', { type: 'response.created', response: { id, object: 'response', status: 'in_progress', output: [] } }],
    ['response.output_item.added', { type: 'response.output_item.added', output_index: 0, item: { ...item, status: 'in_progress' } }],
    ['response.output_item.done', { type: 'response.output_item.done', output_index: 0, item }],
    ['response.completed', { type: 'response.completed', response: { id, object: 'response', status: 'completed', output: [item], usage } }],
  ]);
}

function claudeOffers(body) {
  return (body.tools ?? []).some((t) => t.name === CLAUDE_TOOL);
}

function claudeReply(fake, body, res) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  let done = 0;
  for (const m of messages)
    if (m.role === 'user' && Array.isArray(m.content))
      done += m.content.filter((c) => c.type === 'tool_result' && String(c.tool_use_id).startsWith('toolu_shell_')).length;
  const id = `msg_${++fake.seq}`;
  const usage = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  const start = { type: 'message_start', message: { id, type: 'message', role: 'assistant', model: body.model ?? 'claude-fake', content: [], stop_reason: null, stop_sequence: null, usage } };
  const tools = (body.tools ?? []).map((t) => t.name);
  let use = null;
  if (done < fake.plan.length && claudeOffers(body)) use = { name: CLAUDE_TOOL, id: `toolu_shell_${fake.seq}`, input: fake.plan[done] };
  // Claude Code defers MCP tools: the model loads the schema first, as a
  // real one does, with the ToolSearch tool.
  else if (done < fake.plan.length && tools.includes('ToolSearch'))
    use = { name: 'ToolSearch', id: `toolu_search_${fake.seq}`, input: { query: `select:${CLAUDE_TOOL}` } };
  if (use) {
    const block = { type: 'tool_use', id: use.id, name: use.name, input: {} };
    sse(res, [
      ['message_start', start],
      ['content_block_start', { type: 'content_block_start', index: 0, content_block: block }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(use.input) } }],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 5 } }],
      ['message_stop', { type: 'message_stop' }],
    ]);
    return;
  }
  if (body.stream === false) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...start.message, content: [{ type: 'text', text: fake.finalText }], stop_reason: 'end_turn' }));
    return;
  }
  sse(res, [
    ['message_start', start],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: fake.finalText } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 5 } }],
    ['message_stop', { type: 'message_stop' }],
  ]);
}

/*
 * Start the server. plan: the shell tool's arguments, one object per call
 * the model makes. Returns { url, requests, close() }: url is the base
 * (http://127.0.0.1:PORT), requests every { method, path, body } seen.
 */
export async function startFakeModel({ plan = [], finalText = 'All done.' } = {}) {
  const fake = { plan, finalText, seq: 0, requests: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body = {};
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        body = { unparsed: text };
      }
      const path = req.url.replace(/\?.*$/, '');
      fake.requests.push({ method: req.method, path, body, headers: req.headers });
      if (req.method === 'POST' && path.endsWith('/responses')) return codexReply(fake, body, res);
      if (req.method === 'POST' && path.endsWith('/messages/count_tokens')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ input_tokens: 10 }));
      }
      if (req.method === 'POST' && path.endsWith('/messages')) return claudeReply(fake, body, res);
      if (req.method === 'GET' && path.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ object: 'list', data: [], models: [] }));
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'not_found', message: `fake model: no ${req.method} ${path}` } }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests: fake.requests,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

// What the host sent back for each tool call, in order (text).
export function toolOutputs(requests) {
  const out = [];
  const seen = new Set();
  for (const r of requests) {
    for (const i of Array.isArray(r.body.input) ? r.body.input : [])
      if (i.type === 'function_call_output' && !seen.has(i.call_id)) {
        seen.add(i.call_id);
        out.push(typeof i.output === 'string' ? i.output : (i.output ?? []).map((x) => x.text ?? '').join('\n'));
      }
    for (const m of Array.isArray(r.body.messages) ? r.body.messages : [])
      if (m.role === 'user' && Array.isArray(m.content))
        for (const c of m.content)
          if (c.type === 'tool_result' && String(c.tool_use_id).startsWith('toolu_shell_') && !seen.has(c.tool_use_id)) {
            seen.add(c.tool_use_id);
            out.push(typeof c.content === 'string' ? c.content : (c.content ?? []).map((x) => x.text ?? '').join(''));
          }
  }
  return out;
}

/*
 * The shell tool's result in a tool output as the host passed it on:
 * Codex puts "Wall time: ...\nOutput:" before it, Claude Code passes the
 * text as it is. Returns { exit_code, output, ... }.
 */
export function shellResult(text) {
  const at = text.indexOf('{"exit_code"');
  if (at < 0) throw new Error(`no shell result in the tool output: ${text}`);
  return JSON.parse(text.slice(at));
}
