// The SLA planner with real processes on 127.0.0.1: etcd, `mint frontend`, `mint planner` with the
// local connector starting and stopping real `mint worker --role prefill|decode` processes
// (stories260K, one thread each), driven through the official `openai` client.
//   - under a ramp of requests the planner adds workers, and after it takes them away; no request
//     fails across the scale events (a stopped worker drains, --drain-timeout);
//   - `kill -9` of the planner leaves the workers serving; a restarted planner adopts them and
//     starts no duplicate.
// The planner is given a timing profile far slower than the engine (and no correction), so a few
// requests per second need more than one worker of each role: a 15-token prompt's prefill
// "takes" 225 ms, and a decode step 30 ms per sequence in the batch.
// run.sh sets MINT_BIN and MINT_MODEL_PATH (ctest: distributed_planner).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as C from './cluster.mjs';

const MODEL = 'stories260K';
let etcd, frontend, planner, plannerPort;
const planners = [];  // every planner started, for the pids of the workers they started

function workerCommand(role) {
  return `exec ${C.MINT} worker -m ${C.MODEL} --etcd ${etcd.endpoint} -t 1 --lease-ttl 3 ` +
      `--role ${role} --drain-timeout 30 --metrics-port 0`;
}

const PROFILE = path.join(os.tmpdir(), `mint-planner-profile-${process.pid}.json`);
fs.writeFileSync(PROFILE, JSON.stringify({
  prefill: [[1, 200], [1000, 2000]], decode: [[1, 30], [8, 240]], source: 'planner test',
}));

async function startPlanner(name) {
  plannerPort ??= await C.freePort();
  const p = C.start(name, C.MINT, ['planner', '--model', MODEL, '--etcd', etcd.endpoint,
    '--frontend', `${frontend.url}/metrics`, '--adjustment-interval', '1.5',
    '--profile', PROFILE, '--no-correction', '--sla', 'ttft=5,itl=0.1',
    '--scale-down-intervals', '2', '--max-prefill', '2', '--max-decode', '2',
    '--prefill-command', workerCommand('prefill'), '--decode-command', workerCommand('decode'),
    '--log-dir', '/tmp', '--metrics-port', String(plannerPort)]);
  planners.push(p);
  await C.waitLog(p, /planner metrics on/);
  p.url = `http://127.0.0.1:${plannerPort}`;
  return p;
}

const workers = async () => (await C.metrics(frontend.url)).mint_workers ?? 0;
const actual = async (role) =>
  (await C.metrics(planner.url))[`mint_planner_actual_replicas{role="${role}"}`] ?? 0;

before(async () => {
  etcd = await C.startEtcd();
  frontend = await C.startFrontend(etcd, ['--remote-prefill-min-tokens', '4']);
  planner = await startPlanner('planner-1');
  await C.waitFor('the bounds\' minimum: 1 prefill + 1 decode', async () => (await workers()) === 2,
                  60_000, 200);
});

after(async () => {
  await C.stopAll();
  // The planner's workers live in sessions of their own: stop them by the pids it logged.
  for (const p of planners) {
    for (const m of C.logText(p).matchAll(/pid ([\d, ]+)\)/g)) {
      for (const pid of m[1].split(',').map((s) => Number(s.trim()))) {
        try { process.kill(pid, 'SIGKILL'); } catch {}
      }
    }
  }
  C.cleanup();
  fs.rmSync(PROFILE, { force: true });
});

test('a ramp scales up, quiet scales down, and no request fails', async () => {
  const client = new OpenAI({ baseURL: `${frontend.url}/v1`, apiKey: 'unused', maxRetries: 0,
                              timeout: 120_000 });
  const results = [];
  let maxPrefill = 0, maxDecode = 0, stopPolling = false;
  const poll = (async () => {
    while (!stopPolling) {
      maxPrefill = Math.max(maxPrefill, await actual('prefill'));
      maxDecode = Math.max(maxDecode, await actual('decode'));
      await C.sleep(250);
    }
  })();
  // 16 s at 1 -> 8 requests per second.
  const started = Date.now();
  for (let i = 0; Date.now() - started < 16_000; i++) {
    const rate = 1 + 7 * (Date.now() - started) / 16_000;
    results.push(client.completions.create({
      model: MODEL, prompt: `Story ${i}: once upon a time a little dog went to the park`,
      max_tokens: 24, temperature: 0,
    }).then(() => 'ok', (e) => `failed: ${e.message}`));
    await C.sleep(1000 / rate);
  }
  const outcomes = await Promise.all(results);
  assert.ok(maxPrefill >= 2 && maxDecode >= 2,
            `the planner added workers (max prefill ${maxPrefill}, decode ${maxDecode})`);
  // Quiet: back to the minimum, each stopped worker draining first.
  await C.waitFor('scale-down to 1 + 1', async () => (await workers()) === 2 &&
                  (await actual('prefill')) === 1 && (await actual('decode')) === 1, 60_000, 250);
  stopPolling = true;
  await poll;
  const failed = outcomes.filter((o) => o !== 'ok');
  assert.equal(failed.length, 0, `failed requests: ${failed.slice(0, 3).join('; ')}`);
  assert.ok(outcomes.length > 50, `${outcomes.length} requests sent`);
  const m = await C.metrics(frontend.url);
  const errors = Object.entries(m).filter(([k, v]) => k.startsWith('mint_frontend_requests_total') &&
                                          k.includes('status="5xx"') && v > 0);
  assert.deepEqual(errors, []);
});

test('kill -9 of the planner leaves the workers serving; a restart adopts them', async () => {
  await C.stop(planner, 'SIGKILL');
  await C.sleep(2000);
  assert.equal(await workers(), 2, 'the workers outlive their planner');
  const client = new OpenAI({ baseURL: `${frontend.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const r = await client.completions.create({ model: MODEL, prompt: 'Once upon a time',
                                              max_tokens: 8, temperature: 0 });
  assert.ok(r.choices[0].text.length > 0);
  planner = await startPlanner('planner-2');
  await C.sleep(6000);  // four intervals
  assert.equal(await workers(), 2, 'no duplicate workers');
  assert.doesNotMatch(C.logText(planner), /started \d+ (prefill|decode) worker/);
  assert.equal(await actual('prefill'), 1);
  assert.equal(await actual('decode'), 1);
});
