// The ts block 2 of packages/ollama/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
import type { Policy } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';

declare const policy: Policy;

// ---- README block
import { instrument } from '@bulwark/otel';
const ollama = new Ollama({ policy, instrument }); // or createInstrumentation({ ...options })

export {};
