// Starts and stops the processes of a distributed Mint on 127.0.0.1 for the tests in this folder:
// a real etcd, `mint worker`s, a `mint frontend`, and a single-process `mint serve` for
// reference outputs. Every process gets its own log file; ports are picked by the kernel (port 0)
// and read back from the logs, or (etcd) found free beforehand.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const MINT = process.env.MINT_BIN;
export const MODEL = process.env.MINT_MODEL_PATH;
export const ETCD = process.env.MINT_ETCD ?? '/usr/bin/etcd';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'mint-dist-'));
const procs = new Set();

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// Spawns `cmd args` with output to <name>.log; `env` adds variables (MINT_CPU=scalar by default
// so greedy outputs are exact across batch shapes).
export function start(name, cmd, args, env = {}) {
  const log = path.join(TMP, `${name}.log`);
  const fd = fs.openSync(log, 'a');
  const child = spawn(cmd, args, {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, MINT_CPU: 'scalar', ...env },
  });
  fs.closeSync(fd);
  const p = { name, child, log, exited: null };
  p.exitedPromise = new Promise((resolve) => child.on('exit', (code, sig) => {
    p.exited = { code, sig };
    procs.delete(p);
    resolve(p.exited);
  }));
  procs.add(p);
  return p;
}

export function logText(p) {
  try { return fs.readFileSync(p.log, 'utf8'); } catch { return ''; }
}

// Waits until `re` matches the process's log; returns the match.
export async function waitLog(p, re, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = logText(p).match(re);
    if (m) return m;
    if (p.exited) throw new Error(`${p.name} exited (${JSON.stringify(p.exited)}):\n${logText(p).slice(-3000)}`);
    if (Date.now() > end) throw new Error(`${p.name}: no ${re} in ${timeoutMs} ms:\n${logText(p).slice(-3000)}`);
    await sleep(50);
  }
}

export async function waitFor(what, fn, timeoutMs = 30_000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await sleep(everyMs);
  }
}

export async function stop(p, signal = 'SIGTERM', timeoutMs = 15_000) {
  if (!p || p.exited) return p?.exited;
  p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const r = await p.exitedPromise;
  clearTimeout(t);
  return r;
}

export async function stopAll() {
  await Promise.all([...procs].map((p) => stop(p)));
}

export function cleanup({ keepLogs = false } = {}) {
  if (!keepLogs) fs.rmSync(TMP, { recursive: true, force: true });
  else console.log(`logs kept in ${TMP}`);
}

// etcd on free ports with its own data dir (kept across restarts of the same instance).
export async function startEtcd(existing = null) {
  const e = existing ?? {
    client: await freePort(),
    peer: await freePort(),
    dir: fs.mkdtempSync(path.join(TMP, 'etcd-')),
    host: '127.0.0.1',
  };
  e.proc = start(`etcd-${e.client}`, ETCD, [
    '--name', 'default', '--data-dir', e.dir,
    '--listen-client-urls', `http://${e.host}:${e.client}`,
    '--advertise-client-urls', `http://${e.host}:${e.client}`,
    '--listen-peer-urls', `http://${e.host}:${e.peer}`,
    '--initial-advertise-peer-urls', `http://${e.host}:${e.peer}`,
    '--initial-cluster', `default=http://${e.host}:${e.peer}`,
  ]);
  e.endpoint = `${e.host}:${e.client}`;
  await waitFor('etcd health', async () => {
    const r = await fetch(`http://${e.endpoint}/health`);
    return r.ok && (await r.json()).health === 'true';
  }, 20_000);
  return e;
}

let workerSeq = 0;
export async function startWorker(etcd, extra = []) {
  const name = `worker-${++workerSeq}`;
  const p = start(name, MINT, ['worker', '-m', MODEL, '--etcd', etcd.endpoint, '-t', '1',
    '--lease-ttl', '3', ...extra]);
  const m = await waitLog(p, /worker (\S+) serving '[^']*' on (\S+)/);
  p.id = m[1];
  p.address = m[2];
  return p;
}

// `name` names its log (a later frontend of the same run needs another).
export async function startFrontend(etcd, extra = [], name = 'frontend') {
  const p = start(name, MINT, ['frontend', '-m', MODEL, '--etcd', etcd.endpoint,
    '--port', '0', '--lease-ttl', '3', ...extra]);
  const m = await waitLog(p, /serving '[^']*' on http:\/\/127\.0\.0\.1:(\d+)/);
  p.url = `http://127.0.0.1:${m[1]}`;
  return p;
}

export async function startServe(extra = []) {
  const p = start('serve', MINT, ['serve', '-m', MODEL, '--port', '0', '-t', '1', ...extra]);
  const m = await waitLog(p, /serving '[^']*' on http:\/\/127\.0\.0\.1:(\d+)/);
  p.url = `http://127.0.0.1:${m[1]}`;
  return p;
}

// Prometheus text -> { 'name{labels}': value }.
export async function metrics(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}
