// The chat page at "/": plain HTML and JavaScript, no dependencies, served from the binary.
#include "frontend/http_server.h"

namespace mint::frontend {

const std::string& ChatPageHtml() {
  static const std::string kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mint chat</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.3rem}#log{border:1px solid #ccc;border-radius:6px;padding:.8rem;min-height:14rem;white-space:pre-wrap}
.user{color:#0b5394;margin:.4rem 0}.assistant{margin:.4rem 0 1rem}.think{color:#777;font-style:italic}
form{display:flex;gap:.5rem;margin-top:.8rem}textarea{flex:1;min-height:3rem;font:inherit}
#status{color:#777;font-size:.85rem;margin-top:.4rem}
</style></head><body>
<h1>Mint &mdash; <span id="model">loading</span></h1>
<div id="log"></div>
<form id="f"><textarea id="msg" placeholder="Say something (Enter sends, Shift+Enter: new line)"></textarea>
<button id="send" type="submit">Send</button></form>
<div id="status"></div>
<script>
const log = document.getElementById('log'), msg = document.getElementById('msg');
const statusEl = document.getElementById('status');
let model = null; const history = [];
// With --api-key set the API answers 401: ask for the key once, keep it for this tab only.
let apiKey = sessionStorage.getItem('mint_api_key') || '';
async function api(path, init = {}) {
  for (;;) {
    const headers = Object.assign({}, init.headers || {});
    if (apiKey) headers['Authorization'] = 'Bearer ' + apiKey;
    const r = await fetch(path, Object.assign({}, init, {headers}));
    if (r.status !== 401) return r;
    const k = prompt('This server wants an API key (Authorization: Bearer ...):');
    if (!k) return r;
    apiKey = k; sessionStorage.setItem('mint_api_key', k);
  }
}
api('/v1/models').then(r => r.json()).then(j => {
  model = j.data[0].id; document.getElementById('model').textContent = model;
}).catch(e => statusEl.textContent = 'cannot list models: ' + e);
msg.addEventListener('keydown', e => {
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); document.getElementById('f').requestSubmit(); }
});
document.getElementById('f').addEventListener('submit', async e => {
  e.preventDefault();
  const text = msg.value.trim(); if (!text || !model) return;
  msg.value = ''; history.push({role: 'user', content: text});
  const u = document.createElement('div'); u.className = 'user'; u.textContent = 'You: ' + text; log.appendChild(u);
  const a = document.createElement('div'); a.className = 'assistant'; log.appendChild(a);
  const think = document.createElement('span'); think.className = 'think'; a.appendChild(think);
  const answer = document.createElement('span'); answer.id = 'answer'; a.appendChild(answer);
  const t0 = performance.now(); let n = 0;
  try {
    const r = await api('/v1/chat/completions', {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({model, messages: history, stream: true, max_tokens: 256})});
    if (!r.ok) { answer.textContent = 'error: ' + (await r.text()); return; }
    const reader = r.body.getReader(); const dec = new TextDecoder(); let buf = '';
    for (;;) {
      const {value, done} = await reader.read(); if (done) break;
      buf += dec.decode(value, {stream: true});
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i); buf = buf.slice(i + 2);
        if (!ev.startsWith('data: ')) continue;
        const data = ev.slice(6); if (data === '[DONE]') continue;
        const j = JSON.parse(data);
        if (j.error) { answer.textContent += ' [error: ' + j.error.message + ']'; continue; }
        const d = j.choices && j.choices[0] && j.choices[0].delta; if (!d) continue;
        if (d.reasoning_content) think.textContent += d.reasoning_content;
        if (d.content) { answer.textContent += d.content; n++; }
      }
    }
    history.push({role: 'assistant', content: answer.textContent});
    statusEl.textContent = n + ' chunks in ' + ((performance.now() - t0) / 1000).toFixed(2) + ' s';
  } catch (err) { answer.textContent += ' [error: ' + err + ']'; }
});
</script></body></html>
)HTML";
  return kPage;
}

}  // namespace mint::frontend
