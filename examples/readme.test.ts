import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

it("keeps the README's quickstart identical to the tested, type-checked example", () => {
  const readme = read('README.md');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
  expect(blocks[0]).toBe(read('examples/quickstart.ts'));
});

it("names in the README's pipeline block what createPipeline() builds", () => {
  const readme = read('README.md');
  const source = read('packages/bulwark/src/create-ollama.ts');
  const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string)[1] ?? '';
  for (const [name, value] of [
    ['totalMs', '600_000'],
    ['firstTokenMs', '300_000'],
    ['idleMs', '60_000'],
  ] as const) {
    expect(block).toContain(`${name}: ${value}`);
    expect(source).toContain(`${name}: ${value}`);
  }
  expect(block.indexOf('timeout({ totalMs')).toBeLessThan(block.indexOf('retry('));
  expect(block.indexOf('retry(')).toBeLessThan(block.indexOf('circuitBreaker('));
  expect(block.indexOf('circuitBreaker(')).toBeLessThan(block.indexOf('bulkhead('));
});
