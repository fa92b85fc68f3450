import type { PhaseBudgets } from './types.js';

/**
 * The phase budgets of one request to an LLM server, the one table every client reads: `new Ollama()`,
 * `createFetch()` and `createOllama()` use them when neither the client's options nor a `timeout()`
 * in the policy sets a phase.
 *
 * - `connectMs` 10 s: DNS, TCP and TLS to a server that is up take milliseconds.
 * - `headersMs` 300 s: Ollama sends its headers with the first token, after a model load and the
 *   prompt evaluation; a non-streamed answer sends them after the whole generation.
 * - `firstTokenMs` 300 s: the same wait, for a server that sends its headers early.
 * - `idleMs` 60 s: a generating model sends a token every few hundred milliseconds; a minute of
 *   silence is a stuck runner.
 */
export const DEFAULT_PHASE_BUDGETS = {
  connectMs: 10_000,
  headersMs: 300_000,
  firstTokenMs: 300_000,
  idleMs: 60_000,
} as const satisfies Required<PhaseBudgets>;

/** Sockets a client's own agent keeps open to one server. */
export const DEFAULT_CONNECTIONS = 128;
