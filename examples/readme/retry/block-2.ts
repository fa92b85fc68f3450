// The ts block 2 of packages/retry/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
import { retry } from '@bulwark/retry';

// ---- README block
import { DelegateBackoff } from 'cockatiel';
retry({ backoff: new DelegateBackoff(({ attempt }) => attempt * 500) });

export {};
