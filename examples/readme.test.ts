import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const blocks = (markdown: string) =>
  [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string);

const readmes = [
  'README.md',
  ...readdirSync(new URL('../packages/', import.meta.url))
    .filter((name) => existsSync(new URL(`../packages/${name}/README.md`, import.meta.url)))
    .map((name) => `packages/${name}/README.md`),
];

/**
 * Where the blocks of a README live, type-checked by tsconfig.check.json: the top-level runnable
 * examples for every README, and `examples/readme/<package>/` for a package's README.
 */
function homesOf(readmePath: string): Map<string, string> {
  const files = new Map<string, string>();
  const folders = ['examples/'];
  if (readmePath !== 'README.md' && readmePath !== 'packages/bulwark/README.md')
    folders.push(`examples/readme/${readmePath.split('/')[1]}/`);
  for (const folder of folders) {
    if (!existsSync(new URL(`../${folder}`, import.meta.url))) continue;
    for (const name of readdirSync(new URL(`../${folder}`, import.meta.url))) {
      if (name.endsWith('.ts') && !name.endsWith('.test.ts'))
        files.set(`${folder}${name}`, read(`${folder}${name}`));
    }
  }
  return files;
}

it("keeps the README's quickstart identical to the tested, type-checked example", () => {
  expect(blocks(read('README.md'))[0]).toBe(read('examples/quickstart.ts'));
});

it('checks every README of the repository', () => {
  expect(readmes.length).toBeGreaterThanOrEqual(11);
  const check = JSON.parse(read('tsconfig.check.json')) as { include: string[] };
  expect(check.include).toContain('examples');
});

it.each(readmes)('finds every ts block of %s verbatim in its own type-checked folder', (readmePath) => {
  const files = homesOf(readmePath);
  for (const block of blocks(read(readmePath))) {
    const home = [...files].find(([, text]) => text.includes(block))?.[0];
    expect(
      home,
      `a ts block of ${readmePath} is in no file of its folder (for a package, examples/readme/<package>/); put it there verbatim:\n${block}`,
    ).toBeDefined();
  }
});

it("shows in the README's pipeline block the order and budgets createPipeline() builds", () => {
  const block = blocks(read('README.md'))[1] ?? '';
  // createOllama()'s defaults: its own total deadline, and the phase budgets of core's one table
  const source = read('packages/bulwark/src/create-ollama.ts') + read('packages/core/src/defaults.ts');
  for (const [name, value] of [
    ['totalMs', '600_000'],
    ['connectMs', '10_000'],
    ['firstTokenMs', '300_000'],
    ['idleMs', '60_000'],
  ] as const) {
    expect(block).toContain(`${name}: ${value}`);
    expect(source).toContain(`${name}: ${value}`);
  }
  expect(source).toMatch(/key: 'model', limit: 4, queue: 64/);
  expect(block).toContain("bulkhead({ key: 'model', limit: 4, queue: 64 })");
  const wrapped = block.slice(block.indexOf('wrap('));
  const order = ['timeout({ totalMs', 'retries', 'breaker', 'limit', 'timeout({ connectMs'].map((part) =>
    wrapped.indexOf(part),
  );
  expect(order.every((position) => position > 0)).toBe(true);
  expect(order).toEqual([...order].sort((a, b) => a - b));
});

it("runs every Bulwark cell of the README's Python table in examples/from-python.ts", () => {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('## From the Python client'));
  const rows = section
    .slice(0, section.indexOf('\n\n', section.indexOf('| Python')))
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| Python'));
  expect(rows.length).toBeGreaterThanOrEqual(6);
  const example = read('examples/from-python.ts');
  for (const row of rows) {
    const bulwark = row.split(' | ')[1] ?? '';
    const spans = [...bulwark.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string);
    expect(spans.length, row).toBeGreaterThan(0);
    for (const span of spans) expect(example, `${span} (from: ${row})`).toContain(span);
  }
});
