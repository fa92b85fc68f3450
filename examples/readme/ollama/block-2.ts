// The ts block 2 of packages/ollama/README.md, verbatim below the marker, type-checked.
import type { Policy } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';

declare const policy: Policy;

// ---- README block
import { instrument } from '@bulwark/otel';
const ollama = new Ollama({ policy, instrument }); // or createInstrumentation({ ...options })

export {};
