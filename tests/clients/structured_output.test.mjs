// Structured output and tool calls through the official `openai` npm client (v5), against
// `mint serve` on a random-weight model with Qwen3's vocabulary and chat template (hermes tool
// calls): the model ignores instructions, so every valid answer below is the grammar's doing.
//
// run_structured.sh writes the model, starts the server and sets MINT_BASE_URL and MINT_MODEL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.MINT_BASE_URL;
assert.ok(baseURL, 'MINT_BASE_URL must point at a running mint serve (see run_structured.sh)');
const MODEL = process.env.MINT_MODEL;
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });

const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, maxItems: 3 },
  },
  required: ['name', 'age', 'tags'],
  additionalProperties: false,
};

function checkPerson(p) {
  assert.equal(typeof p.name, 'string');
  assert.ok([...p.name].length <= 12);  // code points, as JSON Schema counts (not UTF-16 units)
  assert.ok(Number.isInteger(p.age) && p.age >= 0 && p.age <= 120, `age ${p.age}`);
  assert.ok(Array.isArray(p.tags) && p.tags.length <= 3);
  for (const t of p.tags) assert.ok(['a', 'b', 'c'].includes(t));
  assert.deepEqual(Object.keys(p), ['name', 'age', 'tags']);
}

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 16 }, days: { type: 'integer', minimum: 1, maximum: 7 } },
        required: ['city', 'days'],
        additionalProperties: false,
      },
      strict: true,
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      parameters: { type: 'object', properties: { tz: { enum: ['UTC', 'CET'] } }, required: ['tz'] },
    },
  },
];

function checkCall(call) {
  assert.equal(call.type, 'function');
  assert.ok(call.id && call.id.length > 0);
  const args = JSON.parse(call.function.arguments);
  if (call.function.name === 'get_weather') {
    assert.equal(typeof args.city, 'string');
    assert.ok(Number.isInteger(args.days) && args.days >= 1 && args.days <= 7);
  } else {
    assert.equal(call.function.name, 'get_time');
    assert.ok(['UTC', 'CET'].includes(args.tz));
  }
  return args;
}

test('response_format json_schema: every sample parses and fits the schema', async () => {
  for (let seed = 1; seed <= 8; seed++) {
    const r = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Describe a person as JSON.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema: PERSON, strict: true } },
      temperature: 1,
      seed,
      max_tokens: 400,
    });
    assert.equal(r.choices[0].finish_reason, 'stop');
    checkPerson(JSON.parse(r.choices[0].message.content));
  }
});

test('chat.completions.parse returns the parsed object', async () => {
  const r = await client.chat.completions.parse({
    model: MODEL,
    messages: [{ role: 'user', content: 'A person, please.' }],
    response_format: { type: 'json_schema', json_schema: { name: 'person', schema: PERSON, strict: true } },
    max_tokens: 400,
  });
  checkPerson(r.choices[0].message.parsed);
});

test('response_format json_schema, streamed: the concatenated deltas are the object', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'JSON please' }],
    response_format: { type: 'json_schema', json_schema: { name: 'person', schema: PERSON } },
    stream: true,
    max_tokens: 400,
    seed: 3,
    temperature: 0.7,
  });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'stop');
  checkPerson(JSON.parse(text));
});

test('response_format json_object: an object, whatever its keys', async () => {
  // A random model rarely closes an unbounded object: check what it wrote is an object's start
  // (and a whole object when it stopped).
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'JSON please' }],
    response_format: { type: 'json_object' },
    max_tokens: 60,
    seed: 5,
  });
  const text = r.choices[0].message.content;
  assert.match(text, /^\{/);
  if (r.choices[0].finish_reason === 'stop') assert.equal(typeof JSON.parse(text), 'object');
});

test('an unsupported schema keyword is a 400 naming it', async () => {
  await assert.rejects(
    client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', not: {} } } },
    }),
    (e) => e.status === 400 && /not/.test(e.message) && e.param === 'response_format.json_schema.schema',
  );
});

test('tool_choice required: tool_calls come back, and a tool result goes back in', async () => {
  const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const r = await client.chat.completions.create({
    model: MODEL, messages, tools: TOOLS, tool_choice: 'required', max_tokens: 300, seed: 7,
  });
  const choice = r.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.ok(choice.message.tool_calls.length >= 1);
  for (const call of choice.message.tool_calls) checkCall(call);
  // The agent loop: the assistant's calls and a role "tool" result for each, then the model
  // answers (unconstrained: any text).
  messages.push(choice.message);
  for (const call of choice.message.tool_calls) {
    messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify({ ok: true, temp_c: 21 }) });
  }
  const next = await client.chat.completions.create({ model: MODEL, messages, tools: TOOLS, max_tokens: 20 });
  assert.ok(['stop', 'length', 'tool_calls'].includes(next.choices[0].finish_reason));
});

test('a named tool_choice, streamed: one call to that function, arguments in deltas', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'time?' }],
    tools: TOOLS,
    tool_choice: { type: 'function', function: { name: 'get_time' } },
    stream: true,
    max_tokens: 200,
  });
  const calls = new Map();
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      for (const tc of c.delta.tool_calls ?? []) {
        if (!calls.has(tc.index)) {
          assert.ok(tc.id && tc.function.name, 'the first delta of a call carries id and name');
          calls.set(tc.index, { id: tc.id, type: 'function', function: { name: tc.function.name, arguments: '' } });
        }
        calls.get(tc.index).function.arguments += tc.function.arguments ?? '';
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.size, 1);
  const call = calls.get(0);
  assert.equal(call.function.name, 'get_time');
  checkCall(call);
});

test('guided_choice and guided_regex (vLLM extension fields) hold on completions too', async () => {
  const c = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'mood?' }], guided_choice: ['happy', 'sad'], temperature: 1, seed: 2,
  });
  assert.ok(['happy', 'sad'].includes(c.choices[0].message.content));
  const r = await client.completions.create({
    model: MODEL, prompt: 'Code:', guided_regex: '[A-Z]{3}-[0-9]{2}', max_tokens: 20,
  });
  assert.match(r.choices[0].text, /^[A-Z]{3}-[0-9]{2}$/);
});

// The Responses API subset agent SDKs use (POST /v1/responses).
const RESPONSE_TOOLS = TOOLS.map((t) => ({ type: 'function', name: t.function.name,
  description: t.function.description, parameters: t.function.parameters, strict: t.function.strict ?? false }));

test('responses.create with a function tool, then its output sent back as an item', async () => {
  const input = [{ role: 'user', content: 'Weather in Paris?' }];
  const r = await client.responses.create({
    // A named call: one call with bounded arguments, so the random-weight model always completes
    // inside max_output_tokens ('required' lets it add call after call, which now and then ran
    // past 300 tokens and ended 'incomplete').
    model: MODEL, input, instructions: 'Use the tools.', tools: RESPONSE_TOOLS,
    tool_choice: { type: 'function', name: 'get_weather' }, max_output_tokens: 300,
  });
  assert.equal(r.object, 'response');
  assert.equal(r.status, 'completed');
  const calls = r.output.filter((o) => o.type === 'function_call');
  assert.ok(calls.length >= 1);
  for (const c of calls) checkCall({ id: c.call_id, type: 'function', function: { name: c.name, arguments: c.arguments } });
  assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
  // The agent loop: the calls and their outputs go back as input items (no server-side state).
  const next = await client.responses.create({
    model: MODEL,
    input: [...input, ...calls, ...calls.map((c) => ({ type: 'function_call_output', call_id: c.call_id, output: '{"temp_c": 21}' }))],
    tools: RESPONSE_TOOLS,
    max_output_tokens: 16,
  });
  assert.ok(['completed', 'incomplete'].includes(next.status));
  await assert.rejects(
    client.responses.create({ model: MODEL, input: 'x', previous_response_id: r.id }),
    (e) => e.status === 400 && e.param === 'previous_response_id',
  );
});

test('responses.create with text.format json_schema: output_text is the object', async () => {
  const r = await client.responses.create({
    model: MODEL, input: 'A person as JSON', max_output_tokens: 400, temperature: 1,
    text: { format: { type: 'json_schema', name: 'person', schema: PERSON, strict: true } },
  });
  assert.equal(r.status, 'completed');
  checkPerson(JSON.parse(r.output_text));
  assert.equal(r.text.format.type, 'json_schema');
});

test('responses.stream: typed events, argument deltas that add up, the final response', async () => {
  const stream = client.responses.stream({
    model: MODEL, input: 'time?', tools: RESPONSE_TOOLS,
    tool_choice: { type: 'function', name: 'get_time' }, max_output_tokens: 200,
  });
  const types = [];
  let args = '';
  let seq = -1;
  for await (const event of stream) {
    types.push(event.type);
    assert.equal(event.sequence_number, seq + 1, 'sequence numbers count up from 0');
    seq = event.sequence_number;
    if (event.type === 'response.function_call_arguments.delta') args += event.delta;
  }
  const final = await stream.finalResponse();
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  assert.ok(types.includes('response.output_item.added') && types.includes('response.output_item.done'));
  const calls = final.output.filter((o) => o.type === 'function_call');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].name, 'get_time');
  assert.equal(args, calls[0].arguments);
  assert.ok(['UTC', 'CET'].includes(JSON.parse(args).tz));
});

test('responses.stream with a JSON schema: the text deltas are the object', async () => {
  const stream = client.responses.stream({
    model: MODEL, input: 'JSON', max_output_tokens: 400, seed: 4, temperature: 1,
    text: { format: { type: 'json_schema', name: 'person', schema: PERSON } },
  });
  let text = '';
  stream.on('response.output_text.delta', (e) => { text += e.delta; });
  const final = await stream.finalResponse();
  assert.equal(final.status, 'completed');
  checkPerson(JSON.parse(text));
  // The final response holds the same text (the stream's finalResponse has no output_text
  // getter unless the SDK parses the format itself).
  const message = final.output.find((o) => o.type === 'message');
  assert.equal(message.content[0].text, text);
});
