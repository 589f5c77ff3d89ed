// The distributed runtime as users run it: a real etcd, `mint frontend` and 3 `mint worker`
// processes on 127.0.0.1, driven through the official `openai` client. Checks, against the
// single-process `mint serve` (greedy, MINT_CPU=scalar so outputs are exact):
//   - 200 concurrent streams all complete with identical outputs;
//   - a worker SIGKILLed mid-load: no stream fails or changes, the worker leaves discovery within
//     its lease TTL, a restarted one rejoins and takes traffic;
//   - etcd stopped for MINT_ETCD_DOWN_S (default 30) s under load: serving continues, and the
//     frontend sees new registrations once etcd is back.
// run.sh sets MINT_BIN and MINT_MODEL_PATH.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import * as C from './cluster.mjs';

const MODEL = 'stories260K';
const LEASE_TTL_S = 3;
const ETCD_DOWN_S = Number(process.env.MINT_ETCD_DOWN_S ?? 30);
const PROMPTS = [
  'Once upon a time', 'The little dog', 'Lily wanted to', 'One day, a big', 'Tom and Sue',
  'The sun was', 'In the park', 'She looked at the', 'He was very happy because', 'The cat said',
  'Mom gave her a', 'They went to the', 'A bird flew', 'The toy was', 'Ben had a red',
  'It was a rainy day', 'The girl smiled and', 'At night, the moon', 'The boy ran to', 'Once there was a',
];

let etcd, frontend, serve;
let workers = [];
const reference = new Map();  // `${prompt}|${max_tokens}` -> text

function client(url) {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
}

async function streamText(c, prompt, maxTokens) {
  const stream = await c.completions.create({
    model: MODEL, prompt, max_tokens: maxTokens, temperature: 0, stream: true,
  });
  let text = '';
  let finish = null;
  let chunks = 0;
  for await (const chunk of stream) {
    for (const ch of chunk.choices) {
      text += ch.text ?? '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
    chunks++;
    onChunk();
  }
  return { text, finish, chunks };
}

let chunkCount = 0;
function onChunk() { chunkCount++; }

async function referenceText(prompt, maxTokens) {
  const key = `${prompt}|${maxTokens}`;
  if (!reference.has(key)) {
    const r = await client(serve.url).completions.create({
      model: MODEL, prompt, max_tokens: maxTokens, temperature: 0,
    });
    reference.set(key, r.choices[0].text);
  }
  return reference.get(key);
}

// n concurrent streams over PROMPTS; asserts each equals the reference. Returns the results.
async function load(n, maxTokens, url = frontend.url) {
  const c = client(url);
  const jobs = [];
  for (let i = 0; i < n; i++) {
    const prompt = PROMPTS[i % PROMPTS.length];
    jobs.push(streamText(c, prompt, maxTokens).then((r) => ({ ...r, prompt })));
  }
  const results = await Promise.allSettled(jobs);
  const failed = results.filter((r) => r.status === 'rejected');
  assert.equal(failed.length, 0, `${failed.length} of ${n} requests failed: ${failed[0]?.reason}`);
  for (const r of results) {
    const want = await referenceText(r.value.prompt, maxTokens);
    assert.equal(r.value.text, want, `output differs for "${r.value.prompt}"`);
  }
  return results.map((r) => r.value);
}

async function workerCount() {
  return (await C.metrics(frontend.url)).mint_workers;
}

before(async () => {
  assert.ok(C.MINT && C.MODEL, 'MINT_BIN and MINT_MODEL_PATH must be set (see run.sh)');
  serve = await C.startServe();
  etcd = await C.startEtcd();
  for (let i = 0; i < 3; i++) workers.push(await C.startWorker(etcd));
  frontend = await C.startFrontend(etcd);
  await C.waitFor('3 workers in the frontend', async () => (await workerCount()) === 3);
  for (const p of PROMPTS) {
    await referenceText(p, 32);
    await referenceText(p, 96);
  }
});

after(async () => {
  await C.stopAll();
  C.cleanup({ keepLogs: process.exitCode !== undefined && process.exitCode !== 0 });
});

test('200 concurrent streams through 3 workers equal the single-process server', async () => {
  const results = await load(200, 32);
  assert.ok(results.every((r) => r.finish === 'length'));
  const m = await C.metrics(frontend.url);
  for (const w of workers) {
    assert.ok(m[`mint_worker_requests_total{worker="${w.id}"}`] > 0, `worker ${w.id} took no request`);
  }
  assert.equal(m.mint_requests_migrated_total, 0);
});

test('constrained requests (guided_regex, guided_json) through the frontend equal mint serve', async () => {
  // The grammar travels in the request plane; each worker compiles it over its own vocabulary.
  const bodies = [
    { prompt: 'Once upon a time', max_tokens: 40, temperature: 0, guided_regex: '[a-z]{2,8}( [a-z]{2,8}){2,4}\\.' },
    { prompt: 'The little dog', max_tokens: 80, temperature: 0,
      guided_json: { type: 'object', properties: { name: { type: 'string', maxLength: 8 },
        age: { type: 'integer', minimum: 1, maximum: 99 } }, required: ['name', 'age'] } },
    { prompt: 'Lily wanted to', max_tokens: 40, temperature: 1, seed: 5, guided_choice: ['yes', 'no', 'maybe'] },
  ];
  for (const body of bodies) {
    const want = await client(serve.url).completions.create({ model: MODEL, ...body });
    const got = await client(frontend.url).completions.create({ model: MODEL, ...body });
    assert.equal(got.choices[0].text, want.choices[0].text, JSON.stringify(body));
    assert.equal(got.choices[0].finish_reason, want.choices[0].finish_reason);
  }
  const r = await client(frontend.url).completions.create({ model: MODEL, ...bodies[0] });
  assert.match(r.choices[0].text, /^[a-z]{2,8}( [a-z]{2,8}){2,4}\.$/);
});

test('a worker SIGKILLed mid-load: no stream fails, it leaves discovery, a new one rejoins', async () => {
  const before = await C.metrics(frontend.url);
  chunkCount = 0;
  const running = load(200, 96);
  // Kill once every stream is flowing.
  await C.waitFor('streams flowing', () => chunkCount >= 600, 60_000, 5);
  const victim = workers[0];
  const killedAt = Date.now();
  await C.stop(victim, 'SIGKILL');
  // Gone from discovery within the lease TTL plus the watch's delivery (timing: 3 s of margin;
  // about 0.5-1 s past the TTL measured). Timed from the kill, while the streams still run: the
  // streams' own end (seconds on a loaded machine) is not part of it.
  const gone = C.waitFor('the dead worker to leave', async () => (await workerCount()) === 2,
    LEASE_TTL_S * 1000 + 3000, 50).then(() => Date.now() - killedAt, () => Infinity);
  await running;
  const goneAfterMs = await gone;
  console.log(`dead worker left discovery ${goneAfterMs} ms after SIGKILL (lease TTL ${LEASE_TTL_S} s)`);
  assert.ok(goneAfterMs <= LEASE_TTL_S * 1000 + 3000);
  const after = await C.metrics(frontend.url);
  assert.ok(after.mint_requests_migrated_total > before.mint_requests_migrated_total,
    'some requests were migrated');
  assert.equal(after.mint_requests_failed_total, before.mint_requests_failed_total);

  const fresh = await C.startWorker(etcd);
  workers = [fresh, ...workers.slice(1)];
  await C.waitFor('the restarted worker to join', async () => (await workerCount()) === 3);
  await load(60, 32);
  const m = await C.metrics(frontend.url);
  assert.ok(m[`mint_worker_requests_total{worker="${fresh.id}"}`] > 0, 'the new worker takes traffic');
});

test(`etcd stopped for ${ETCD_DOWN_S} s under load: serving continues, watches resume`, async () => {
  await C.stop(etcd.proc, 'SIGKILL');
  const end = Date.now() + ETCD_DOWN_S * 1000;
  let rounds = 0;
  while (Date.now() < end) {
    await load(20, 32);
    assert.equal(await workerCount(), 3, 'the frontend keeps the membership it last saw');
    rounds++;
  }
  console.log(`${rounds} rounds of 20 requests served while etcd was down`);
  etcd = await C.startEtcd(etcd);
  // A worker registered after etcd's return shows up: the frontend re-watched.
  const late = await C.startWorker(etcd);
  workers.push(late);
  await C.waitFor('the frontend to see a worker registered after etcd returned',
    async () => (await workerCount()) === 4, 30_000);
  await load(80, 32);
  const m = await C.metrics(frontend.url);
  assert.ok(m[`mint_worker_requests_total{worker="${late.id}"}`] > 0);
  assert.equal(m.mint_requests_failed_total, 0);
});
