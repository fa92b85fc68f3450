/**
 * Compile-time checks (`npx tsc -p tsconfig.check.json`): requests typed with the official `ollama`
 * package's types are accepted as they are, and the answers have the official keys.
 */
import type {
  AbortableAsyncIterator as OfficialAbortableAsyncIterator,
  ChatRequest as OfficialChatRequest,
  ChatResponse as OfficialChatResponse,
  CopyRequest as OfficialCopyRequest,
  CreateRequest as OfficialCreateRequest,
  DeleteRequest as OfficialDeleteRequest,
  EmbeddingsRequest as OfficialEmbeddingsRequest,
  EmbeddingsResponse as OfficialEmbeddingsResponse,
  EmbedRequest as OfficialEmbedRequest,
  EmbedResponse as OfficialEmbedResponse,
  GenerateRequest as OfficialGenerateRequest,
  GenerateResponse as OfficialGenerateResponse,
  ListResponse as OfficialListResponse,
  Message as OfficialMessage,
  ModelDetails as OfficialModelDetails,
  ModelResponse as OfficialModelResponse,
  ProgressResponse as OfficialProgressResponse,
  PullRequest as OfficialPullRequest,
  PushRequest as OfficialPushRequest,
  ShowRequest as OfficialShowRequest,
  ShowResponse as OfficialShowResponse,
  StatusResponse as OfficialStatusResponse,
  Tool as OfficialTool,
  ToolCall as OfficialToolCall,
  VersionResponse as OfficialVersionResponse,
} from 'ollama';
import type { Ollama } from './ollama.js';
import type {
  AbortableAsyncIterator,
  ChatResponse,
  EmbeddingsResponse,
  EmbedResponse,
  GenerateResponse,
  ListResponse,
  Message,
  ModelDetails,
  ModelResponse,
  ProgressResponse,
  ShowResponse,
  StatusResponse,
  Tool,
  ToolCall,
  VersionResponse,
} from './types.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectTrue<T extends true>(_: T): void {}

/** Never called: only compiled. */
export async function requestsTypedWithTheOfficialTypes(
  ollama: Ollama,
  values: {
    chat: OfficialChatRequest;
    generate: OfficialGenerateRequest;
    pull: OfficialPullRequest;
    push: OfficialPushRequest;
    create: OfficialCreateRequest;
    copy: OfficialCopyRequest;
    delete: OfficialDeleteRequest;
    show: OfficialShowRequest;
    embed: OfficialEmbedRequest;
    embeddings: OfficialEmbeddingsRequest;
    message: OfficialMessage;
    tool: OfficialTool;
    toolCall: OfficialToolCall;
  },
): Promise<void> {
  // `stream?: boolean` as the official type declares it: either shape comes back
  const chat = await ollama.chat(values.chat);
  expectTrue<Equal<typeof chat, ChatResponse | AbortableAsyncIterator<ChatResponse>>>(true);
  const generate = await ollama.generate(values.generate);
  expectTrue<Equal<typeof generate, GenerateResponse | AbortableAsyncIterator<GenerateResponse>>>(true);
  const pull = await ollama.pull(values.pull);
  expectTrue<Equal<typeof pull, ProgressResponse | AbortableAsyncIterator<ProgressResponse>>>(true);
  await ollama.push(values.push);
  await ollama.create(values.create);

  // literal `stream` narrows, as in the official client
  const streamed = await ollama.chat({ ...values.chat, stream: true });
  expectTrue<Equal<typeof streamed, AbortableAsyncIterator<ChatResponse>>>(true);
  const whole = await ollama.chat({ ...values.chat, stream: false });
  expectTrue<Equal<typeof whole, ChatResponse>>(true);
  const progress = await ollama.pull({ ...values.pull, stream: true });
  expectTrue<Equal<typeof progress, AbortableAsyncIterator<ProgressResponse>>>(true);
  const created = await ollama.create({ ...values.create, stream: false });
  expectTrue<Equal<typeof created, ProgressResponse>>(true);

  await ollama.copy(values.copy);
  await ollama.delete(values.delete);
  await ollama.show(values.show);
  await ollama.embed(values.embed);
  await ollama.embeddings(values.embeddings);

  const message: Message = values.message;
  const tool: Tool = values.tool;
  const toolCall: ToolCall = values.toolCall;
  await ollama.chat({ model: 'm', messages: [message], tools: [tool] });
  void toolCall;

  // the per-call second argument
  await ollama.chat(values.chat, { signal: AbortSignal.timeout(1) });
  await ollama.list({ signal: new AbortController().signal });

  // the official iterator's members are there
  type IteratorKeys = Exclude<keyof OfficialAbortableAsyncIterator<ChatResponse>, `#${string}`>;
  expectTrue<Equal<Extract<'abort', IteratorKeys>, 'abort'>>(true);
}

// Answers: the same keys as the official types (ModelResponse adds the server's context_length).
expectTrue<Equal<keyof ChatResponse, keyof OfficialChatResponse>>(true);
expectTrue<Equal<keyof GenerateResponse, keyof OfficialGenerateResponse>>(true);
expectTrue<Equal<keyof EmbedResponse, keyof OfficialEmbedResponse>>(true);
expectTrue<Equal<keyof EmbeddingsResponse, keyof OfficialEmbeddingsResponse>>(true);
expectTrue<Equal<keyof ProgressResponse, keyof OfficialProgressResponse>>(true);
expectTrue<Equal<keyof ShowResponse, keyof OfficialShowResponse>>(true);
expectTrue<Equal<keyof ListResponse, keyof OfficialListResponse>>(true);
expectTrue<Equal<keyof StatusResponse, keyof OfficialStatusResponse>>(true);
expectTrue<Equal<keyof VersionResponse, keyof OfficialVersionResponse>>(true);
expectTrue<Equal<keyof ModelDetails, keyof OfficialModelDetails>>(true);
expectTrue<Equal<keyof Message, keyof OfficialMessage>>(true);
expectTrue<Equal<Exclude<keyof ModelResponse, 'context_length'>, keyof OfficialModelResponse>>(true);
// `created_at` is the server's RFC 3339 string, not a Date
expectTrue<Equal<ChatResponse['created_at'], string>>(true);
expectTrue<Equal<OfficialChatResponse['created_at'], Date>>(true);
