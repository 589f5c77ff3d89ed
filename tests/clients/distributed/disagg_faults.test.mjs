// Disaggregated serving under faults, with real processes on 127.0.0.1 (etcd, `mint frontend`,
// `mint worker --role prefill|decode`), through the official `openai` client. In every case no
// accepted request is lost: greedy outputs (MINT_CPU=scalar) equal the single-process server's,
// and once every request has ended each surviving worker's /metrics shows 0 KV blocks in use and
// 0 exports pending.
//   - a prefill worker SIGKILLed under load: its requests prefill on the decode worker (a decode
//     worker whose pull finds the holder gone recomputes the prompt);
//   - every transfer fails (the prefill worker frees each export after 1 ms, before the pull): the
//     decode worker recomputes (--kv-load-failure-policy recompute, the default), or with `fail`
//     each such request ends with an error;
//   - a decode worker SIGKILLed under load: its requests migrate to the other decode worker, and
//     the exports it never pulled are freed after --kv-export-timeout.
// run.sh sets MINT_BIN and MINT_MODEL_PATH (ctest: distributed_disagg_faults).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import * as C from './cluster.mjs';

const MODEL = 'stories260K';
const OPENINGS = [
  'Once upon a time', 'The little dog', 'Lily wanted to', 'One day, a big', 'Tom and Sue',
  'The sun was', 'In the park', 'She looked at the', 'He was very happy because', 'The cat said',
];
// Request i's prompt: no two share a first KV block, so none is cached on a decode worker and
// every one is prefilled remotely (--remote-prefill-min-tokens 8).
const prompt = (i) => `Story ${i}. ${OPENINGS[i % OPENINGS.length]} and the friends went home`;

let serve, etcd, frontend;
let cluster = [];  // this test's workers
const reference = new Map();

function client(url) {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
}

async function referenceText(p, maxTokens) {
  const key = `${p}|${maxTokens}`;
  if (!reference.has(key)) {
    const r = await client(serve.url).completions.create({
      model: MODEL, prompt: p, max_tokens: maxTokens, temperature: 0,
    });
    reference.set(key, r.choices[0].text);
  }
  return reference.get(key);
}

let chunks = 0;
async function streamText(c, p, maxTokens) {
  const stream = await c.completions.create({
    model: MODEL, prompt: p, max_tokens: maxTokens, temperature: 0, stream: true,
  });
  let text = '';
  for await (const chunk of stream) {
    for (const ch of chunk.choices) text += ch.text ?? '';
    chunks++;
  }
  return text;
}

// n concurrent streams (prompts first..first+n-1); the settled results.
function load(first, n, maxTokens) {
  const c = client(frontend.url);
  const jobs = [];
  for (let i = first; i < first + n; i++) {
    jobs.push(streamText(c, prompt(i), maxTokens).then((text) => ({ i, text })));
  }
  return Promise.allSettled(jobs);
}

async function expectAllEqualReference(results, maxTokens) {
  const failed = results.filter((r) => r.status === 'rejected');
  assert.equal(failed.length, 0, `${failed.length} of ${results.length} failed: ${failed[0]?.reason}`);
  for (const r of results) {
    assert.equal(r.value.text, await referenceText(prompt(r.value.i), maxTokens),
      `output differs for request ${r.value.i}`);
  }
}

async function startWorker(role, extra = []) {
  const w = await C.startWorker(etcd, ['--role', role, '--metrics-port', '0', ...extra]);
  const m = await C.waitLog(w, /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/);
  w.metricsUrl = m[1];
  w.role = role;
  cluster.push(w);
  return w;
}

let clusters = 0;
async function startCluster(workers) {
  etcd = await C.startEtcd();
  cluster = [];
  for (const [role, extra] of workers) await startWorker(role, extra);
  frontend = await C.startFrontend(etcd, ['--remote-prefill-min-tokens', '8'],
    `frontend-${++clusters}`);
  await C.waitFor(`${workers.length} workers in the frontend`,
    async () => (await C.metrics(frontend.url)).mint_workers === workers.length);
}

async function stopCluster() {
  for (const p of [frontend, ...cluster, etcd?.proc]) await C.stop(p);
}

// name{labels} -> value, the first key that starts with `name` and contains `label`.
function metric(m, name, label = '') {
  const k = Object.keys(m).find((key) => (key === name || key.startsWith(`${name}{`)) && key.includes(label));
  return k === undefined ? undefined : m[k];
}

// Every live worker of the cluster holds no KV block and no export (waits for exports a dead
// puller never took to expire).
async function expectNothingHeld(timeoutMs = 15_000) {
  for (const w of cluster.filter((x) => !x.exited)) {
    await C.waitFor(`worker ${w.id} (${w.role}) to hold nothing`, async () => {
      const m = await C.metrics(w.metricsUrl);
      const used = metric(m, 'mint_kv_blocks', 'state="used"');
      const pending = metric(m, 'mint_kv_exports_pending') ?? 0;
      return used === 0 && pending === 0;
    }, timeoutMs);
  }
}

before(async () => {
  assert.ok(C.MINT && C.MODEL, 'MINT_BIN and MINT_MODEL_PATH must be set (see run.sh)');
  serve = await C.startServe();
});

after(async () => {
  await C.stopAll();
  C.cleanup({ keepLogs: process.exitCode !== undefined && process.exitCode !== 0 });
});

test('a prefill worker SIGKILLed under load: every request completes unchanged', async () => {
  await startCluster([['prefill', []], ['prefill', []], ['decode', []]]);
  chunks = 0;
  const running = load(0, 40, 48);
  await C.waitFor('streams flowing', () => chunks >= 100, 60_000, 5);
  const victim = cluster[0];
  await C.stop(victim, 'SIGKILL');
  await expectAllEqualReference(await running, 48);
  const m = await C.metrics(frontend.url);
  assert.equal(m.mint_requests_failed_total, 0);
  assert.ok(m.mint_remote_prefills_total > 0, 'some prompts were prefilled remotely');
  console.log(`prefill worker killed: ${m.mint_remote_prefills_total} remote prefills, ` +
    `${m.mint_prefill_fallbacks_total} fell back to the decode worker`);
  // Later requests go to the surviving prefill worker.
  await expectAllEqualReference(await load(100, 10, 16), 16);
  await expectNothingHeld();
  await stopCluster();
});

test('every transfer fails: the decode worker recomputes, or fails the request with `fail`', async () => {
  await startCluster([['prefill', ['--kv-export-timeout', '0.001']], ['decode', []]]);
  // (A decode worker may still pull within that 1 ms: the counts are compared, not fixed.)
  await expectAllEqualReference(await load(200, 8, 16), 16);
  const d = await C.metrics(cluster[1].metricsUrl);
  const p = await C.metrics(cluster[0].metricsUrl);
  assert.ok(d.mint_kv_transfer_load_failures_total >= 1, 'pulls failed');
  assert.equal(d.mint_kv_transfer_load_failures_total, p.mint_kv_exports_expired_total,
    'each failed pull found its export expired');
  assert.equal(d.mint_kv_transfer_loads_total, 8);
  // The frontend counts them too, from the decode worker's responses.
  const f = await C.metrics(frontend.url);
  assert.equal(f['mint_kv_import_failures_total{outcome="recomputed"}'],
    d.mint_kv_transfer_load_failures_total, 'the frontend saw each recomputation');
  assert.equal(f['mint_kv_import_failures_total{outcome="failed"}'], 0);
  await expectNothingHeld();
  // The same with --kv-load-failure-policy fail: each request ends with an error.
  await C.stop(cluster[1]);
  cluster.pop();
  await C.waitFor('the old decode worker to leave',
    async () => (await C.metrics(frontend.url)).mint_workers === 1);
  await startWorker('decode', ['--kv-load-failure-policy', 'fail']);
  await C.waitFor('the new decode worker', async () => (await C.metrics(frontend.url)).mint_workers === 2);
  const results = await load(300, 8, 16);
  const failed = results.filter((r) => r.status === 'rejected').length;
  const d2 = await C.metrics(cluster[1].metricsUrl);
  assert.ok(failed >= 1, 'requests whose pull failed ended with an error');
  assert.equal(failed, d2.mint_kv_transfer_load_failures_total, 'exactly those');
  const f2 = await C.metrics(frontend.url);
  assert.equal(f2['mint_kv_import_failures_total{outcome="failed"}'], failed,
    'the frontend counted each failed request');
  await expectAllEqualReference(results.filter((r) => r.status === 'fulfilled'), 16);
  await expectNothingHeld();
  await stopCluster();
});

test('a decode worker SIGKILLed under load: requests migrate, unpulled exports expire', async () => {
  await startCluster([['prefill', ['--kv-export-timeout', '2']], ['decode', []], ['decode', []]]);
  chunks = 0;
  const running = load(400, 40, 96);
  await C.waitFor('streams flowing', () => chunks >= 200, 60_000, 5);
  await C.stop(cluster[1], 'SIGKILL');
  await expectAllEqualReference(await running, 96);
  const m = await C.metrics(frontend.url);
  assert.equal(m.mint_requests_failed_total, 0);
  assert.ok(m.mint_requests_migrated_total > 0, 'some requests migrated');
  await expectNothingHeld();
  await stopCluster();
});
