// The ts block 1 of packages/breaker/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
// ---- README block
import { wrap } from '@bulwark/core';
import { circuitBreaker, ConsecutiveBreaker } from '@bulwark/breaker';
import { Ollama } from '@bulwark/ollama';

const breaker = circuitBreaker({ key: 'model', breaker: () => new ConsecutiveBreaker(5), halfOpenAfterMs: 30_000 });
breaker.onStateChange(({ key, from, to }) => console.log(`breaker ${key}: ${from} → ${to}`));
const ollama = new Ollama({ policy: wrap(breaker) });

export {};
