// The chat page at "/" in headless Chromium: it lists the model, sends a message and shows a
// streamed reply. run.sh starts `mint serve` and passes its address.
//
//   MINT_URL          http://127.0.0.1:PORT/ of a running `mint serve` (required)
//   CHROMIUM          browser executable (default /usr/bin/chromium)
//   CHAT_SCREENSHOT   where the PNG of the finished page goes (default ./chat_page.png)
import assert from 'node:assert/strict';
import path from 'node:path';
import {after, before, test} from 'node:test';
import puppeteer from 'puppeteer-core';

const kUrl = process.env.MINT_URL;
const kChromium = process.env.CHROMIUM || '/usr/bin/chromium';
const kScreenshot = path.resolve(process.env.CHAT_SCREENSHOT || 'chat_page.png');
const kTimeoutMs = 60_000;

let browser;
let page;
const pageErrors = [];

before(async () => {
  assert.ok(kUrl, 'MINT_URL is not set (run through run.sh)');
  browser = await puppeteer.launch({
    executablePath: kChromium,
    headless: true,
    // --no-sandbox: ctest often runs as root, where Chromium refuses its sandbox.
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  page = await browser.newPage();
  page.setDefaultTimeout(kTimeoutMs);
  await page.setViewport({width: 900, height: 700});
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${m.text()} (${m.location()?.url ?? ''})`);
  });
});

after(async () => {
  await browser?.close();
});

test('chat page sends a message and shows a streamed reply', async () => {
  const response = await page.goto(kUrl, {waitUntil: 'load'});
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'Mint chat');

  // The page fills #model from GET /v1/models; until then it reads "loading".
  await page.waitForFunction(() => {
    const t = document.getElementById('model').textContent;
    return t && t !== 'loading';
  });
  const model = await page.$eval('#model', (e) => e.textContent);
  console.log(`model: ${model}`);

  // Network evidence of streaming: the chat response's body arrives in more than one piece.
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  let chatRequestId = null;
  let chatContentType = '';
  let bodyPieces = 0;
  cdp.on('Network.responseReceived', (e) => {
    if (e.response.url.endsWith('/v1/chat/completions')) {
      chatRequestId = e.requestId;
      chatContentType = e.response.headers['content-type'] ?? e.response.headers['Content-Type'];
    }
  });
  cdp.on('Network.dataReceived', (e) => { if (e.requestId === chatRequestId) bodyPieces++; });

  await page.type('#msg', 'Once upon a time');
  await page.click('#send');

  // The status line is written once the stream has ended: "N chunks in S s". The screenshot is
  // taken either way, so a failed run shows what the page got to.
  try {
    await page.waitForFunction(() => {
      const a = document.getElementById('answer');
      const s = document.getElementById('status').textContent;
      return a && a.textContent.length > 0 && s.includes('chunks');
    });
  } finally {
    await page.screenshot({path: kScreenshot, fullPage: true});
    console.log(`screenshot: ${kScreenshot}`);
  }
  const answer = await page.$eval('#answer', (e) => e.textContent);
  const status = await page.$eval('#status', (e) => e.textContent);
  const user = await page.$eval('#log .user', (e) => e.textContent);

  console.log(`status: ${status}`);
  console.log(`answer: ${JSON.stringify(answer)}`);
  console.log(`response: ${chatContentType}, body in ${bodyPieces} network pieces`);

  assert.equal(user, 'You: Once upon a time');
  assert.ok(answer.trim().length > 0, 'the reply is empty');
  assert.doesNotMatch(answer, /\[error:|^error:/, 'the reply carries an error');
  const m = status.match(/^(\d+) chunks in /);
  assert.ok(m, `unexpected status line: ${status}`);
  assert.ok(Number(m[1]) > 1, `the reply came in ${m[1]} chunk(s), not as a stream`);
  assert.match(chatContentType, /^text\/event-stream/);
  // bodyPieces (network reads) is logged, not asserted: stories260K can produce all 256 tokens
  // faster than one read (CI saw 1 piece); the page's SSE chunk count above is the check.
  assert.equal(await page.$eval('#msg', (e) => e.value), '', 'the textarea was not cleared');
  assert.deepEqual(pageErrors, [], 'the page logged errors');
});
