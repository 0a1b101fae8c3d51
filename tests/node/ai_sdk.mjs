// The Vercel AI SDK against the gateway: every feature of one provider package on one
// model, printed as JSON ({feature: {value} or {error}}) for tests/compat/test_ai_sdk.py.
// Usage: node ai_sdk.mjs <openai|openai.chat|anthropic|google> <model> [embedding model]
// with AISONAR_URL, AISONAR_KEY and AISONAR_PROMPT in the environment.
import { embed, generateObject, generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { createOpenAI } from '@ai-sdk/openai';

// Stdout carries the results only: the SDK's warnings (settings a provider ignores) go to stderr.
globalThis.AI_SDK_LOG_WARNINGS = (...warnings) => console.error(...warnings);

const [wire, modelName, embeddingName] = process.argv.slice(2);
const { AISONAR_URL: url, AISONAR_KEY: apiKey, AISONAR_PROMPT: prompt } = process.env;

const providers = {
  openai: () => createOpenAI({ baseURL: `${url}/v1`, apiKey }),
  'openai.chat': () => createOpenAI({ baseURL: `${url}/v1`, apiKey }).chat,
  anthropic: () => createAnthropic({ baseURL: `${url}/v1`, apiKey }),
  google: () => createGoogleGenerativeAI({ baseURL: `${url}/v1beta`, apiKey }),
};
const provider = providers[wire]();
const model = provider(modelName);
const common = { model, prompt, maxRetries: 0 };

const echo = tool({
  description: 'Echo the given text back.',
  inputSchema: jsonSchema({
    type: 'object',
    properties: { echo: { type: 'string' } },
    required: ['echo'],
  }),
  execute: async (input) => `tool said ${input.echo}`,
});
const withTools = { ...common, tools: { echo }, stopWhen: stepCountIs(2) };
const calls = (steps) => steps.flatMap((step) => step.toolCalls.map((c) => [c.toolName, c.input]));

const features = {
  text: async () => (await generateText(common)).text,
  stream: async () => {
    let failure;
    const stream = streamText({ ...common, onError: ({ error }) => { failure = error; } });
    const pieces = [];
    for await (const piece of stream.textStream) pieces.push(piece);
    if (failure) throw failure;
    return pieces;
  },
  tools: async () => {
    const result = await generateText(withTools);
    return { calls: calls(result.steps), text: result.text };
  },
  'tools-stream': async () => {
    const result = streamText({ ...withTools, onError: () => {} });
    return { calls: calls(await result.steps), text: await result.text };
  },
  structured: async () => {
    const schema = jsonSchema({
      type: 'object',
      properties: { echo: { type: 'string' } },
      required: ['echo'],
      additionalProperties: false,
    });
    return (await generateObject({ ...common, schema })).object;
  },
  embeddings: async () => {
    const embedder = provider.textEmbeddingModel ?? createOpenAI({ baseURL: `${url}/v1`, apiKey }).textEmbeddingModel;
    return (await embed({ model: embedder(embeddingName), value: prompt, maxRetries: 0 })).embedding;
  },
};

const results = {};
for (const [name, run] of Object.entries(features)) {
  if (name === 'embeddings' && !embeddingName) continue;
  try {
    results[name] = { value: await run() };
  } catch (error) {
    results[name] = { error: String(error?.message ?? error) };
  }
}
process.stdout.write(JSON.stringify(results));
