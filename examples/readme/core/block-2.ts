// The ts block 2 of packages/core/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
import { BulwarkError, ErrorCode } from '@bulwark/core';

// ---- README block
const phaseOf = (error: unknown): string | undefined =>
  BulwarkError.is(error) && error.code === ErrorCode.Timeout ? error.phase : undefined;

export { phaseOf };
