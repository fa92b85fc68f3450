/**
 * Prompts and outputs in the shapes of the GenAI JSON schemas (gen-ai-input-messages.json,
 * gen-ai-output-messages.json, gen-ai-system-instructions.json, v1.41.1), serialized to JSON
 * strings for span attributes. Used only when content capture is on.
 */

type Fields = Record<string, unknown>;
type Part = Record<string, unknown>;

interface Message {
  role: string;
  parts: Part[];
  finish_reason?: string;
}

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null;

function parseArguments(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function imageParts(images: unknown): Part[] {
  if (!Array.isArray(images)) return [];
  return images
    .filter((image): image is string => typeof image === 'string')
    .map((image) => ({ type: 'blob', modality: 'image', content: image }));
}

/** The parts of one Ollama or OpenAI-shaped message. */
function messageParts(message: Fields): Part[] {
  const parts: Part[] = [];
  if (typeof message.thinking === 'string' && message.thinking !== '')
    parts.push({ type: 'reasoning', content: message.thinking });
  if (message.role === 'tool') {
    const id = typeof message.tool_call_id === 'string' ? message.tool_call_id : null;
    parts.push({ type: 'tool_call_response', id, response: message.content ?? null });
    return parts;
  }
  if (typeof message.content === 'string' && message.content !== '')
    parts.push({ type: 'text', content: message.content });
  else if (Array.isArray(message.content)) {
    for (const entry of message.content) {
      if (isObject(entry) && typeof entry.text === 'string')
        parts.push({ type: 'text', content: entry.text });
    }
  }
  parts.push(...imageParts(message.images));
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (!isObject(call)) continue;
      const fn = isObject(call.function) ? call.function : {};
      parts.push({
        type: 'tool_call',
        id: typeof call.id === 'string' ? call.id : null,
        name: typeof fn.name === 'string' ? fn.name : '',
        arguments: parseArguments(fn.arguments),
      });
    }
  }
  return parts;
}

/** `gen_ai.input.messages` of a chat (`messages`) or generate (`prompt`, `images`) request. */
export function inputMessages(request: unknown): string | undefined {
  if (!isObject(request)) return undefined;
  const messages: Message[] = [];
  if (Array.isArray(request.messages)) {
    for (const message of request.messages) {
      if (!isObject(message)) continue;
      messages.push({
        role: typeof message.role === 'string' ? message.role : 'user',
        parts: messageParts(message),
      });
    }
  } else if (typeof request.prompt === 'string') {
    messages.push({
      role: 'user',
      parts: [{ type: 'text', content: request.prompt }, ...imageParts(request.images)],
    });
  } else {
    return undefined;
  }
  return JSON.stringify(messages);
}

/** `gen_ai.system_instructions` of a request with a separate `system` field (generate). */
export function systemInstructions(request: unknown): string | undefined {
  if (!isObject(request) || typeof request.system !== 'string' || request.system === '') return undefined;
  return JSON.stringify([{ type: 'text', content: request.system }]);
}

/**
 * `gen_ai.output.messages` of a final answer: Ollama chat (`message`), generate (`response`,
 * `thinking`) or OpenAI-shaped (`choices[].message`).
 */
export function outputMessages(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const reason = typeof value.done_reason === 'string' ? value.done_reason : 'stop';
  let messages: Message[];
  if (isObject(value.message)) {
    messages = [
      {
        role: 'assistant',
        parts: messageParts({ ...value.message, role: 'assistant' }),
        finish_reason: reason,
      },
    ];
  } else if (typeof value.response === 'string') {
    const parts: Part[] = [];
    if (typeof value.thinking === 'string' && value.thinking !== '')
      parts.push({ type: 'reasoning', content: value.thinking });
    parts.push({ type: 'text', content: value.response });
    messages = [{ role: 'assistant', parts, finish_reason: reason }];
  } else if (Array.isArray(value.choices)) {
    messages = value.choices.filter(isObject).map((choice) => ({
      role: 'assistant',
      parts: isObject(choice.message) ? messageParts({ ...choice.message, role: 'assistant' }) : [],
      finish_reason: typeof choice.finish_reason === 'string' ? choice.finish_reason : 'stop',
    }));
  } else {
    return undefined;
  }
  return JSON.stringify(messages);
}
