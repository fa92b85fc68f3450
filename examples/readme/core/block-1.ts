// The ts block 1 of packages/core/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
// ---- README block
import { definePolicy, noop, wrap } from '@bulwark/core';

const log = definePolicy(async (context, next) => {
  console.log(`attempt ${context.attempt} of ${context.attributes.operation} on ${context.attributes.model}`);
  return next(context);
});

const policy = wrap(log, noop());
const answer = await policy.execute(async ({ signal }) => 'hello', {
  attributes: { operation: 'chat', model: 'llama3.2' },
});

export {};
