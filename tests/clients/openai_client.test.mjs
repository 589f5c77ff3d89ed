// Mint's OpenAI compatibility, through the official `openai` npm client (v5): every request goes
// through the client's own serialization, SSE parsing and error mapping, so a field the client
// cannot read fails here even if our own C++ tests agree with our own C++ writer.
//
// Needs a running `mint serve` on the stories260K model: run.sh starts one and sets
// MINT_BASE_URL (e.g. http://127.0.0.1:41289/v1) and MINT_MODEL (default stories260K).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.MINT_BASE_URL;
assert.ok(baseURL, 'MINT_BASE_URL must point at a running mint serve (see run.sh)');
const MODEL = process.env.MINT_MODEL ?? 'stories260K';

// maxRetries 0: a 4xx/5xx must surface as the first error, not be retried away.
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });

const CHAT_MESSAGES = [{ role: 'user', content: 'Once upon a time' }];
const PROMPT = 'Once upon a time';

// Collects a stream: per-index text, finish reasons, the role deltas and a usage chunk if any.
async function collect(stream, field) {
  const out = { text: new Map(), finish: new Map(), roles: [], usage: null, chunks: 0, ids: new Set() };
  let first = true;
  for await (const chunk of stream) {
    out.chunks++;
    out.ids.add(chunk.id);
    if (chunk.usage) {
      assert.equal(out.usage, null, 'only one chunk carries usage');
      assert.deepEqual(chunk.choices, [], 'the usage chunk has empty choices');
      out.usage = chunk.usage;
    }
    for (const c of chunk.choices) {
      if (field === 'delta') {
        if (first) {
          assert.equal(c.delta.role, 'assistant', 'the first delta carries role assistant');
        }
        if (c.delta.role !== undefined) out.roles.push([c.index, c.delta.role]);
      }
      first = false;
      const piece = field === 'delta' ? c.delta.content ?? '' : c.text ?? '';
      out.text.set(c.index, (out.text.get(c.index) ?? '') + piece);
      if (c.finish_reason) {
        assert.ok(!out.finish.has(c.index), `choice ${c.index}: more than one finish_reason`);
        out.finish.set(c.index, c.finish_reason);
      }
    }
  }
  return out;
}

function checkUsage(usage, maxCompletion) {
  assert.ok(usage, 'usage present');
  for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens']) {
    assert.ok(Number.isInteger(usage[k]) && usage[k] >= 0, `usage.${k} is a count: ${usage[k]}`);
  }
  assert.ok(usage.prompt_tokens > 0);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  if (maxCompletion !== undefined) assert.ok(usage.completion_tokens <= maxCompletion);
}

async function greedyChat(extra = {}) {
  return client.chat.completions.create({
    model: MODEL, messages: CHAT_MESSAGES, temperature: 0, max_tokens: 40, ...extra,
  });
}

async function greedyCompletion(extra = {}) {
  return client.completions.create({
    model: MODEL, prompt: PROMPT, temperature: 0, max_tokens: 40, ...extra,
  });
}

// A stop string that occurs in `text` after at least a few characters: " <word>" for a word from
// the middle of the text. Returns [stop, expected prefix].
function pickStop(text) {
  const words = text.split(/\s+/).filter((w) => /^[A-Za-z]{3,}$/.test(w));
  for (const w of words.slice(2)) {
    const stop = ' ' + w;
    const at = text.indexOf(stop);
    if (at > 0) return [stop, text.slice(0, at)];
  }
  assert.fail(`no usable stop word in the greedy text ${JSON.stringify(text)}`);
}

test('models.list() contains the served model', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    ids.push(m.id);
  }
  assert.ok(ids.includes(MODEL), `models: ${ids.join(', ')}`);
  const one = await client.models.retrieve(MODEL);
  assert.equal(one.id, MODEL);
  assert.equal(one.object, 'model');
  const missing = await client.models.retrieve('no-such-model').catch((e) => e);
  assert.ok(missing instanceof OpenAI.NotFoundError, String(missing));
});

test('chat non-streaming: content, finish_reason, usage, id', async () => {
  const r = await greedyChat();
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.model, MODEL);
  assert.ok(Number.isInteger(r.created));
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.index, 0);
  assert.equal(c.message.role, 'assistant');
  assert.equal(typeof c.message.content, 'string');
  assert.ok(c.message.content.length > 0, 'content non-empty');
  assert.ok(['stop', 'length'].includes(c.finish_reason), `finish_reason ${c.finish_reason}`);
  checkUsage(r.usage, 40);
  if (c.finish_reason === 'length') assert.equal(r.usage.completion_tokens, 40);
});

test('chat streaming equals non-streaming greedy; usage chunk with include_usage', async () => {
  const full = await greedyChat();
  const stream = await greedyChat({ stream: true, stream_options: { include_usage: true } });
  const s = await collect(stream, 'delta');
  assert.equal(s.ids.size, 1, 'one id across chunks');
  assert.match([...s.ids][0], /^chatcmpl-/);
  assert.deepEqual(s.roles, [[0, 'assistant']], 'role sent once, first');
  assert.equal(s.text.get(0), full.choices[0].message.content);
  assert.equal(s.finish.size, 1, 'exactly one finish_reason');
  assert.equal(s.finish.get(0), full.choices[0].finish_reason);
  checkUsage(s.usage, 40);
  assert.equal(s.usage.completion_tokens, full.usage.completion_tokens);
  assert.equal(s.usage.prompt_tokens, full.usage.prompt_tokens);
});

test('chat streaming without include_usage sends no usage chunk', async () => {
  const stream = await greedyChat({ stream: true, max_tokens: 5 });
  const s = await collect(stream, 'delta');
  assert.equal(s.usage, null);
  assert.equal(s.finish.size, 1);
});

test('completions: non-streaming and streaming give the same greedy text', async () => {
  const full = await greedyCompletion();
  assert.equal(full.object, 'text_completion');
  assert.match(full.id, /^cmpl-/);
  assert.equal(full.choices.length, 1);
  const text = full.choices[0].text;
  assert.equal(typeof text, 'string');
  assert.ok(text.length > 0);
  checkUsage(full.usage, 40);

  const stream = await greedyCompletion({ stream: true, stream_options: { include_usage: true } });
  const s = await collect(stream, 'text');
  assert.equal(s.text.get(0), text);
  assert.equal(s.finish.size, 1);
  assert.equal(s.finish.get(0), full.choices[0].finish_reason);
  checkUsage(s.usage, 40);
  assert.equal(s.usage.completion_tokens, full.usage.completion_tokens);
});

test('completions stop string: output is the prefix before it, finish_reason stop', async () => {
  const greedy = (await greedyCompletion()).choices[0].text;
  const [stop, prefix] = pickStop(greedy);
  const r = await greedyCompletion({ stop });
  assert.equal(r.choices[0].text, prefix, `stop ${JSON.stringify(stop)}`);
  assert.equal(r.choices[0].finish_reason, 'stop');
  checkUsage(r.usage, 40);

  const s = await collect(await greedyCompletion({ stop: [stop], stream: true }), 'text');
  assert.equal(s.text.get(0), prefix, 'streamed text holds nothing of the stop string');
  assert.equal(s.finish.get(0), 'stop');
});

test('chat stop string: output is the prefix before it, finish_reason stop', async () => {
  const greedy = (await greedyChat()).choices[0].message.content;
  const [stop, prefix] = pickStop(greedy);
  const r = await greedyChat({ stop: [stop, 'never-in-the-output-xyz'] });
  assert.equal(r.choices[0].message.content, prefix, `stop ${JSON.stringify(stop)}`);
  assert.equal(r.choices[0].finish_reason, 'stop');

  const s = await collect(await greedyChat({ stop, stream: true }), 'delta');
  assert.equal(s.text.get(0), prefix);
  assert.equal(s.finish.get(0), 'stop');
});

test('n=3 with temperature 1 and a seed: three choices, indexes 0..2', async () => {
  const r = await client.chat.completions.create({
    model: MODEL, messages: CHAT_MESSAGES, temperature: 1, seed: 7, n: 3, max_tokens: 16,
  });
  assert.deepEqual(r.choices.map((c) => c.index).sort(), [0, 1, 2]);
  for (const c of r.choices) {
    assert.equal(typeof c.message.content, 'string');
    assert.ok(['stop', 'length'].includes(c.finish_reason));
  }
  checkUsage(r.usage, 3 * 16);

  const c = await client.completions.create({
    model: MODEL, prompt: PROMPT, temperature: 1, seed: 7, n: 3, max_tokens: 16,
  });
  assert.deepEqual(c.choices.map((x) => x.index).sort(), [0, 1, 2]);
  checkUsage(c.usage, 3 * 16);
});

test('n=3 streaming: every index streams and finishes exactly once', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL, messages: CHAT_MESSAGES, temperature: 1, seed: 11, n: 3, max_tokens: 12,
    stream: true, stream_options: { include_usage: true },
  });
  const s = await collect(stream, 'delta');
  assert.deepEqual([...s.finish.keys()].sort(), [0, 1, 2]);
  assert.deepEqual(s.roles.map(([i]) => i).sort(), [0, 1, 2], 'role once per index');
  checkUsage(s.usage, 3 * 12);
});

test('chat logprobs with top_logprobs 2', async () => {
  const r = await greedyChat({ logprobs: true, top_logprobs: 2, max_tokens: 8 });
  const lp = r.choices[0].logprobs;
  assert.ok(lp && Array.isArray(lp.content), 'logprobs.content is an array');
  assert.ok(lp.content.length > 0 && lp.content.length <= r.usage.completion_tokens);
  for (const e of lp.content) {
    assert.equal(typeof e.token, 'string');
    assert.equal(typeof e.logprob, 'number');
    assert.ok(e.logprob <= 0);
    assert.equal(e.top_logprobs.length, 2);
    for (const t of e.top_logprobs) {
      assert.equal(typeof t.token, 'string');
      assert.ok(typeof t.logprob === 'number' && t.logprob <= 0);
    }
    assert.ok(e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob, 'top sorted');
    // Greedy: the chosen token is the most likely one.
    assert.ok(Math.abs(e.logprob - e.top_logprobs[0].logprob) < 1e-4, JSON.stringify(e));
  }
  assert.equal(lp.content.map((e) => e.token).join(''), r.choices[0].message.content);

  const s = await collect(
    await greedyChat({ logprobs: true, top_logprobs: 2, max_tokens: 8, stream: true }), 'delta');
  assert.equal(s.text.get(0), r.choices[0].message.content);
});

test('completions logprobs: 2', async () => {
  const r = await greedyCompletion({ logprobs: 2, max_tokens: 8 });
  const lp = r.choices[0].logprobs;
  assert.ok(lp, 'logprobs present');
  const n = lp.tokens.length;
  assert.ok(n > 0 && n <= r.usage.completion_tokens);
  assert.equal(lp.token_logprobs.length, n);
  assert.equal(lp.top_logprobs.length, n);
  assert.equal(lp.text_offset.length, n);
  for (let i = 0; i < n; i++) {
    assert.equal(typeof lp.tokens[i], 'string');
    assert.ok(lp.token_logprobs[i] <= 0);
    const top = lp.top_logprobs[i];
    assert.equal(Object.keys(top).length, 2, JSON.stringify(top));
    for (const v of Object.values(top)) assert.ok(typeof v === 'number' && v <= 0);
    if (i > 0) assert.ok(lp.text_offset[i] >= lp.text_offset[i - 1]);
  }
  assert.equal(lp.tokens.join(''), r.choices[0].text);
});

test('seed: same seed reproduces, different seeds differ', async () => {
  const sample = async (seed) => (await client.completions.create({
    model: MODEL, prompt: PROMPT, temperature: 1, seed, max_tokens: 24,
  })).choices[0].text;
  const a = await sample(1234);
  const b = await sample(1234);
  assert.equal(a, b, 'same seed, same text');
  const chat = async (seed) => (await client.chat.completions.create({
    model: MODEL, messages: CHAT_MESSAGES, temperature: 1, seed, max_tokens: 24,
  })).choices[0].message.content;
  assert.equal(await chat(99), await chat(99), 'same seed, same chat text');

  const texts = new Set([a]);
  for (const seed of [1, 2, 3, 4, 5]) texts.add(await sample(seed));
  assert.ok(texts.size >= 3, `6 seeds gave only ${texts.size} distinct texts`);
});

test('max_tokens and max_completion_tokens are respected', async () => {
  for (const max of [1, 3, 7]) {
    const r = await greedyChat({ max_tokens: max });
    assert.ok(r.usage.completion_tokens <= max, `${r.usage.completion_tokens} > ${max}`);
    if (r.choices[0].finish_reason === 'length') assert.equal(r.usage.completion_tokens, max);
    const c = await greedyCompletion({ max_tokens: max });
    assert.ok(c.usage.completion_tokens <= max);
  }
  const r = await client.chat.completions.create({
    model: MODEL, messages: CHAT_MESSAGES, temperature: 0, max_completion_tokens: 4,
  });
  assert.ok(r.usage.completion_tokens <= 4);
});

async function expectApiError(promise, status) {
  const err = await promise.then(
    (v) => assert.fail(`expected HTTP ${status}, got a response ${JSON.stringify(v)}`),
    (e) => e);
  assert.ok(err instanceof OpenAI.APIError, `not an APIError: ${err}`);
  assert.equal(err.status, status, err.message);
  assert.equal(typeof err.message, 'string');
  return err;
}

test('error: unknown model is a 404 NotFoundError', async () => {
  const err = await expectApiError(client.chat.completions.create({
    model: 'no-such-model', messages: CHAT_MESSAGES, max_tokens: 4,
  }), 404);
  assert.ok(err instanceof OpenAI.NotFoundError);
  await expectApiError(client.completions.create({
    model: 'no-such-model', prompt: PROMPT, max_tokens: 4,
  }), 404);
});

test('error: temperature 5 is a 400 with param temperature', async () => {
  const err = await expectApiError(greedyChat({ temperature: 5 }), 400);
  assert.ok(err instanceof OpenAI.BadRequestError);
  assert.equal(err.param, 'temperature');
  assert.equal(err.type, 'invalid_request_error');
  const err2 = await expectApiError(greedyCompletion({ temperature: 5 }), 400);
  assert.equal(err2.param, 'temperature');
});

test('error: invalid messages are a 400', async () => {
  const empty = await expectApiError(client.chat.completions.create({
    model: MODEL, messages: [], max_tokens: 4,
  }), 400);
  assert.ok(empty instanceof OpenAI.BadRequestError);
  assert.match(empty.param ?? '', /^messages/);
  const badRole = await expectApiError(client.chat.completions.create({
    model: MODEL, messages: [{ role: 'wizard', content: 'hi' }], max_tokens: 4,
  }), 400);
  assert.match(badRole.param ?? '', /^messages/);
  const noContent = await expectApiError(client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user' }], max_tokens: 4,
  }), 400);
  assert.match(noContent.param ?? '', /^messages/);
});

test('error: a streaming request that is invalid fails before the stream starts', async () => {
  await expectApiError(greedyChat({ temperature: 5, stream: true }), 400);
});

// Reads a counter or gauge (summed over its label sets) from mint's /metrics.
async function metric(name) {
  const text = await (await fetch(new URL('/metrics', baseURL))).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = line.match(/^(\w+)(\{[^}]*\})? (\S+)$/);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}

test('a client that leaves a stream mid-way has its generation aborted', async () => {
  const before = await metric('mint_frontend_output_tokens_total');
  const stream = await client.chat.completions.create({
    model: MODEL, messages: CHAT_MESSAGES, temperature: 0, max_tokens: 2000, stream: true,
    ignore_eos: true,  // mint extension: without an abort this runs to exactly 2000 tokens
  });
  let chunks = 0;
  for await (const chunk of stream) {
    if (++chunks === 3) break;  // the client aborts the HTTP request
  }
  // The aborted request is finished (and counted) once nothing is in flight.
  for (let i = 0; (await metric('mint_frontend_inflight_requests')) > 0; i++) {
    assert.ok(i < 100, 'the aborted request is still in flight after 10 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const generated = (await metric('mint_frontend_output_tokens_total')) - before;
  assert.ok(generated < 2000, `the aborted request generated ${generated} tokens`);
  const r = await greedyChat({ max_tokens: 5 });
  assert.ok(r.choices[0].message.content.length > 0, 'the server still serves');
});

test('concurrent requests all succeed and match the greedy result', async () => {
  const expected = (await greedyCompletion()).choices[0].text;
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    i % 2 ? greedyCompletion()
          : greedyCompletion({ stream: true }).then((st) => collect(st, 'text')).then((s) => ({
            choices: [{ text: s.text.get(0) }],
          }))));
  for (const r of results) assert.equal(r.choices[0].text, expected);
});
