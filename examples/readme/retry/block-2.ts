// The ts block 2 of packages/retry/README.md, verbatim below the marker, type-checked.
import { retry } from '@bulwark/retry';

// ---- README block
import { DelegateBackoff } from 'cockatiel';
retry({ backoff: new DelegateBackoff(({ attempt }) => attempt * 500) });

export {};
