// The Vercel AI SDK against Plexus, driven by tests/e2e/test_ai_sdk.py.
//
// `node ai_sdk.mjs REQUEST.json`: reads {nodeDir, url, prompts, cases: [{id, client, model,
// scenario}]}, runs every case at once and prints one JSON line per case: {id, text, chunks,
// error, warnings}. The packages come from nodeDir (`make e2e-deps` installs them into
// .cache/node), not from this folder.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(input.nodeDir, 'package.json'));
const { generateText, jsonSchema, stepCountIs, streamText, tool } = require('ai');
const { createOpenAI } = require('@ai-sdk/openai');
const { createAnthropic } = require('@ai-sdk/anthropic');
const { createGoogleGenerativeAI } = require('@ai-sdk/google');

const { url, prompts } = input;
const openai = createOpenAI({ baseURL: `${url}/v1`, apiKey: 'plexus-key' });
const anthropic = createAnthropic({ baseURL: `${url}/v1`, apiKey: 'plexus-key' });
const google = createGoogleGenerativeAI({ baseURL: `${url}/v1beta`, apiKey: 'plexus-key' });

// The four ways to reach a model: Chat Completions, Responses (the OpenAI provider's default),
// Anthropic Messages and Gemini; each with the options that turn its reasoning on.
const CLIENTS = {
  'openai-chat': {
    model: (name) => openai.chat(name),
    reasoning: { openai: { reasoningEffort: 'low', forceReasoning: true } },
  },
  'openai-responses': {
    model: (name) => openai(name),
    reasoning: { openai: { reasoningEffort: 'low', reasoningSummary: 'auto', forceReasoning: true } },
  },
  anthropic: {
    model: (name) => anthropic(name),
    reasoning: { anthropic: { thinking: { type: 'enabled', budgetTokens: 1024 } } },
  },
  google: {
    model: (name) => google(name),
    reasoning: { google: { thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } } },
  },
};

const weather = tool({
  description: prompts.toolDescription,
  inputSchema: jsonSchema({
    type: 'object',
    properties: { city: { type: 'string', description: 'City name' } },
    required: ['city'],
    additionalProperties: false,
  }),
  execute: async ({ city }) => `${city.toUpperCase()}-SUNNY-${city.length * 7}C`,
});

async function run(item) {
  const client = CLIENTS[item.client];
  const base = { model: client.model(item.model), maxRetries: 0, maxOutputTokens: 2048 };
  const result = { id: item.id, text: null, chunks: [], error: null, warnings: [] };
  const note = (answer) => result.warnings.push(...(answer.warnings ?? []).map(String));
  try {
    switch (item.scenario) {
      case 'plain': {
        const answer = await generateText({ ...base, prompt: prompts.plain });
        note(answer);
        result.text = answer.text;
        break;
      }
      case 'stream': {
        const answer = streamText({
          ...base,
          prompt: prompts.plain,
          onError: ({ error }) => { result.error = describe(error); },
        });
        for await (const chunk of answer.textStream) result.chunks.push(chunk);
        result.text = result.chunks.join('');
        break;
      }
      case 'tools':
      case 'reasoning': {
        const answer = await generateText({
          ...base,
          prompt: prompts.tool,
          tools: { [prompts.toolName]: weather },
          stopWhen: stepCountIs(3),
          ...(item.scenario === 'reasoning' ? { providerOptions: client.reasoning } : {}),
        });
        note(answer);
        result.text = answer.text;
        break;
      }
      case 'history': {
        // Two turns of one conversation: the second sends the first answer back as history.
        const first = await generateText({ ...base, prompt: prompts.plain });
        const messages = [
          { role: 'user', content: prompts.plain },
          ...first.response.messages,
          { role: 'user', content: prompts.again },
        ];
        const answer = await generateText({ ...base, messages });
        note(answer);
        result.text = answer.text;
        break;
      }
      default:
        throw new Error(`unknown scenario ${item.scenario}`);
    }
  } catch (error) {
    result.error = describe(error);
  }
  return result;
}

function describe(error) {
  const body = error?.responseBody ? ` ${error.responseBody}` : '';
  return `${error?.name ?? 'Error'}: ${error?.message ?? error}${body}`.slice(0, 3000);
}

const results = await Promise.all(input.cases.map(run));
for (const result of results) process.stdout.write(`${JSON.stringify(result)}\n`);
