import { describe, expect, it } from 'vitest';
import { resolveModel } from './model-catalog.js';
import {
  countTokens,
  planReply,
  Random,
  simulatedReply,
  splitJsonTokens,
  valueForSchema,
} from './simulated-reply.js';
import { SimOptionError } from './validate-options.js';

const messages = [{ role: 'user', content: 'Hello there' }];

describe('simulatedReply', () => {
  it('cut by num_predict, is the start of the whole answer', () => {
    const spec = { name: 'long', replyTokens: 1_000_000 };
    const whole = simulatedReply(spec, { messages, options: { num_predict: 400 } });
    for (const limit of [1, 2, 3, 37, 399]) {
      const cut = simulatedReply(spec, { messages, options: { num_predict: limit } });
      expect(cut.chunks).toEqual(whole.chunks.slice(0, limit));
      expect(cut.doneReason).toBe('length');
    }
  });

  it('is deterministic and depends on the model, the messages and the seed', () => {
    const first = simulatedReply({ model: 'llama3.2', messages });
    expect(simulatedReply({ model: 'llama3.2:latest', messages })).toEqual(first);
    expect(simulatedReply({ model: 'LLAMA3.2', messages })).toEqual(first);
    expect(simulatedReply('llama3.2', { messages })).toEqual(first);
    expect(simulatedReply({ messages }, 'llama3.2')).toEqual(first);
    expect(simulatedReply({ name: 'llama3.2' }, { messages })).toEqual(first);
    expect(simulatedReply({ model: 'mistral', messages }).content).not.toBe(first.content);
    expect(
      simulatedReply({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hello' }] }).content,
    ).not.toBe(first.content);
    expect(simulatedReply({ model: 'llama3.2', messages, options: { seed: 1 } }).content).not.toBe(
      first.content,
    );
    expect(simulatedReply({ model: 'llama3.2', messages, options: { seed: 1 } })).toEqual(
      simulatedReply({ model: 'llama3.2', messages, options: { seed: 1 } }),
    );
  });

  it('has 20 to 40 tokens by default, one chunk per token, ending a sentence', () => {
    for (let index = 0; index < 50; index++) {
      const reply = simulatedReply({
        model: 'llama3.2',
        messages: [{ role: 'user', content: `question ${index}` }],
      });
      expect(reply.chunks.length).toBeGreaterThanOrEqual(20);
      expect(reply.chunks.length).toBeLessThanOrEqual(40);
      expect(reply.chunks.join('')).toBe(reply.content);
      expect(reply.evalCount).toBe(reply.chunks.length);
      expect(reply.doneReason).toBe('stop');
      expect(reply.content.endsWith('.')).toBe(true);
    }
  });

  it('takes the natural length from the model spec and cuts at num_predict', () => {
    expect(simulatedReply({ messages }, { name: 'm', replyTokens: 5 }).chunks).toHaveLength(5);
    expect(simulatedReply({ messages }, { name: 'm', replyTokens: [7, 7] }).chunks).toHaveLength(7);
    const cut = simulatedReply({ model: 'llama3.2', messages, options: { num_predict: 4 } });
    expect(cut.chunks).toHaveLength(4);
    expect(cut.doneReason).toBe('length');
    const long = simulatedReply({ model: 'llama3.2', messages, options: { num_predict: 10_000 } });
    expect(long.doneReason).toBe('stop');
  });

  it('thinks on thinking models unless think is false, with num_predict counting both', () => {
    const reply = simulatedReply({ model: 'qwen3', messages });
    expect(reply.thinking).toBe(reply.thinkingChunks.join(''));
    expect(reply.thinkingChunks.length).toBeGreaterThan(0);
    expect(reply.evalCount).toBe(reply.thinkingChunks.length + reply.chunks.length);
    expect(simulatedReply({ model: 'qwen3', messages, think: false }).thinking).toBeUndefined();
    expect(simulatedReply({ model: 'llama3.2', messages, think: true }).thinking).toBeUndefined();
    const cut = simulatedReply({ model: 'qwen3', messages, options: { num_predict: 3 } });
    expect(cut.thinkingChunks).toHaveLength(3);
    expect(cut.content).toBe('');
    expect(cut.doneReason).toBe('length');
  });

  it('answers generate prompts, counting prompt tokens', () => {
    const reply = simulatedReply({ model: 'llama3.2', prompt: 'Why is the sky blue?' });
    expect(reply.promptEvalCount).toBe(countTokens('Why is the sky blue?') + 5);
    expect(reply.content).not.toBe(simulatedReply({ model: 'llama3.2', prompt: 'Why?' }).content);
  });

  it('returns copies: changing a reply does not change the next one', () => {
    const reply = simulatedReply({ model: 'llama3.2', messages });
    reply.chunks.length = 0;
    expect(simulatedReply({ model: 'llama3.2', messages }).chunks.length).toBeGreaterThan(0);
  });

  it('streams a 100,000-token answer plan quickly', () => {
    const started = performance.now();
    const plan = planReply({ model: 'big', messages }, resolveModel({ name: 'big', replyTokens: 100_000 }));
    expect(plan.chunks).toHaveLength(100_000);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('structured output', () => {
  it('gives JSON that satisfies the schema', () => {
    const schema = {
      type: 'object',
      properties: {
        title: { type: 'string' },
        year: { type: 'integer', minimum: 1900, maximum: 2030 },
        score: { type: 'number', minimum: 0, maximum: 1 },
        good: { type: 'boolean' },
        genre: { enum: ['drama', 'comedy'] },
        cast: {
          type: 'array',
          items: { type: 'object', properties: { name: { type: 'string' } } },
          minItems: 2,
        },
        note: { anyOf: [{ type: 'null' }, { type: 'string' }] },
      },
    };
    const reply = simulatedReply({ model: 'llama3.2', messages, format: schema });
    const value = JSON.parse(reply.content);
    expect(typeof value.title).toBe('string');
    expect(value.year).toBeGreaterThanOrEqual(1900);
    expect(value.year).toBeLessThanOrEqual(2030);
    expect(value.score).toBeGreaterThanOrEqual(0);
    expect(value.score).toBeLessThanOrEqual(1);
    expect(typeof value.good).toBe('boolean');
    expect(['drama', 'comedy']).toContain(value.genre);
    expect(value.cast.length).toBeGreaterThanOrEqual(2);
    expect(typeof value.cast[0].name).toBe('string');
    expect(typeof value.note).toBe('string');
    expect(reply.chunks.length).toBeGreaterThan(5);
  });

  it('splits JSON into pieces that join back exactly', () => {
    const text = JSON.stringify({ a: 'x y "q"', b: [1, 2.5, true, null], c: { d: 'é🙂' } });
    expect(splitJsonTokens(text).join('')).toBe(text);
    expect(valueForSchema({ type: 'string', format: 'date' }, new Random(1))).toBe('2025-06-01');
  });

  it('calls a tool unless the last message is a tool answer', () => {
    const tools = [
      {
        type: 'function',
        function: { name: 'search', parameters: { type: 'object', properties: { q: { type: 'string' } } } },
      },
    ];
    const call = simulatedReply({ model: 'llama3.2', messages, tools });
    expect(call.content).toBe('');
    expect(call.chunks).toEqual([]);
    expect(call.toolCalls?.[0]?.function).toMatchObject({ index: 0, name: 'search' });
    expect(call.evalCount).toBeGreaterThan(0);
    const answered = simulatedReply({
      model: 'llama3.2',
      messages: [...messages, { role: 'tool', content: 'found' }],
      tools,
    });
    expect(answered.toolCalls).toBeUndefined();
    expect(answered.content.length).toBeGreaterThan(0);
  });
});

describe('simulatedReply() input', () => {
  it('throws a SimOptionError with a code naming the missing request or model', () => {
    const missing = (call: () => unknown) => {
      try {
        call();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const noRequest = missing(() => simulatedReply('llama3.2', undefined as never));
    expect(noRequest).toBeInstanceOf(SimOptionError);
    expect(noRequest).toMatchObject({ code: 'ERR_BULWARK_SIM_INVALID_OPTION', option: 'request' });
    const noModel = missing(() => simulatedReply({ messages }));
    expect(noModel).toBeInstanceOf(SimOptionError);
    expect(noModel).toMatchObject({ code: 'ERR_BULWARK_SIM_INVALID_OPTION', option: 'model' });
  });
});
