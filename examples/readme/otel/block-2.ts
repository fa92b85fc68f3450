// The ts block 2 of packages/otel/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
import { wrap } from '@bulwark/core';
import { instrument } from '@bulwark/otel';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';

declare const url: URL;

// ---- README block
const search = instrument(wrap(retry(), timeout({ attemptMs: 2_000 })), { name: 'search' });
await search.execute(({ signal }) => fetch(url, { signal }), { attributes: { operation: 'search', host: url.origin } });

export {};
