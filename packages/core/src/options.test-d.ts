// Compile-time checks: `pnpm typecheck` fails if an option schema can drift from its options type.
import { duration, integer, type OptionSchema, validateOptions } from './options.js';

interface ExampleOptions {
  /** @default 1 */
  limit?: number;
  /** @default 0 */
  waitMs?: number;
}

declare const options: ExampleOptions | undefined;

// exactly one check per option: accepted
validateOptions('example()', options, { limit: integer(1), waitMs: duration(0) });

// @ts-expect-error a schema that misses an option of the type
validateOptions('example()', options, { limit: integer(1) });

// @ts-expect-error a schema that checks an option the type does not have
validateOptions('example()', options, { limit: integer(1), waitMs: duration(0), queue: integer(0) });

export const schema = { limit: integer(1), waitMs: duration(0) } satisfies OptionSchema<ExampleOptions>;

// @ts-expect-error a renamed option is a compile error in a standalone schema too
export const renamed = { limit: integer(1), waitMS: duration(0) } satisfies OptionSchema<ExampleOptions>;
