// The ts block 2 of packages/otel/README.md, verbatim below the marker, type-checked.
import { wrap } from '@bulwark/core';
import { instrument } from '@bulwark/otel';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';

declare const url: URL;

// ---- README block
const search = instrument(wrap(retry(), timeout({ attemptMs: 2_000 })), { name: 'search' });
await search.execute(({ signal }) => fetch(url, { signal }), { attributes: { operation: 'search', host: url.origin } });

export {};
