// The routes Ollama registers (server/routes.go GenerateRoutes) and gin's 404 / 405 / trailing
// slash behaviour around them.
import type { RouteHandler } from '../sim-state.js';
import { handleChat } from './chat.js';
import { handleEmbed, handleEmbeddings } from './embed.js';
import { handleGenerate } from './generate.js';
import {
  handleCopy,
  handleDelete,
  handlePs,
  handleRoot,
  handleShow,
  handleTags,
  handleVersion,
} from './models.js';
import {
  handleChatCompletions,
  handleCompletions,
  handleOpenaiEmbeddings,
  handleOpenaiModel,
  handleOpenaiModels,
} from './openai.js';
import { handleCreate, handlePull, handlePush } from './transfer.js';

interface Route {
  readonly path: string;
  readonly pattern?: RegExp;
  readonly methods: Readonly<Record<string, RouteHandler>>;
}

const ROUTES: readonly Route[] = [
  { path: '/', methods: { GET: handleRoot, HEAD: handleRoot } },
  { path: '/api/version', methods: { GET: handleVersion, HEAD: handleVersion } },
  { path: '/api/pull', methods: { POST: handlePull } },
  { path: '/api/push', methods: { POST: handlePush } },
  { path: '/api/tags', methods: { GET: handleTags, HEAD: handleTags } },
  { path: '/api/show', methods: { POST: handleShow } },
  { path: '/api/delete', methods: { DELETE: handleDelete } },
  { path: '/api/create', methods: { POST: handleCreate } },
  { path: '/api/copy', methods: { POST: handleCopy } },
  { path: '/api/ps', methods: { GET: handlePs } },
  { path: '/api/generate', methods: { POST: handleGenerate } },
  { path: '/api/chat', methods: { POST: handleChat } },
  { path: '/api/embed', methods: { POST: handleEmbed } },
  { path: '/api/embeddings', methods: { POST: handleEmbeddings } },
  { path: '/v1/chat/completions', methods: { POST: handleChatCompletions } },
  { path: '/v1/completions', methods: { POST: handleCompletions } },
  { path: '/v1/embeddings', methods: { POST: handleOpenaiEmbeddings } },
  { path: '/v1/models', methods: { GET: handleOpenaiModels } },
  { path: '/v1/models/:model', pattern: /^\/v1\/models\/([^/]+)$/, methods: { GET: handleOpenaiModel } },
];

const EXACT = new Map(ROUTES.filter((route) => !route.pattern).map((route) => [route.path, route]));
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/** The outcome of routing a request. */
export type RouteMatch =
  | {
      readonly kind: 'handler';
      readonly handler: RouteHandler;
      readonly params: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'method-not-allowed'; readonly allow: string }
  | { readonly kind: 'redirect'; readonly location: string; readonly status: 301 | 307 };

function find(path: string): { route: Route; params: Readonly<Record<string, string>> } | undefined {
  const exact = EXACT.get(path);
  if (exact) return { route: exact, params: NO_PARAMS };
  for (const route of ROUTES) {
    const match = route.pattern?.exec(path);
    if (match) return { route, params: { model: decodeURIComponent(match[1] ?? '') } };
  }
  return undefined;
}

/** The answers for the fixed paths, by path and method, made once. */
const EXACT_MATCHES = new Map<string, Map<string, RouteMatch>>(
  [...EXACT].map(([path, route]) => [
    path,
    new Map(
      Object.entries(route.methods).map(([method, handler]) => [
        method,
        { kind: 'handler', handler, params: NO_PARAMS },
      ]),
    ),
  ]),
);

/** Routes `method path` like gin with HandleMethodNotAllowed and RedirectTrailingSlash. */
export function matchRoute(method: string, path: string): RouteMatch {
  const exact = EXACT_MATCHES.get(path)?.get(method);
  if (exact) return exact;
  const found = find(path);
  if (found) {
    const handler = found.route.methods[method];
    if (handler) return { kind: 'handler', handler, params: found.params };
    return { kind: 'method-not-allowed', allow: Object.keys(found.route.methods).join(', ') };
  }
  if (path.length > 1) {
    const other = path.endsWith('/') ? path.slice(0, -1) : `${path}/`;
    const alternative = find(other);
    if (alternative?.route.methods[method]) {
      return { kind: 'redirect', location: other, status: method === 'GET' ? 301 : 307 };
    }
  }
  return { kind: 'not-found' };
}

/** Whether a route streams NDJSON by default (for faults that send the route's headers). */
export function streamsByDefault(path: string): boolean {
  return ['/api/chat', '/api/generate', '/api/pull', '/api/push', '/api/create'].includes(path);
}
