import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const blocks = (markdown: string) =>
  [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string);

/** The examples and package sources, all type-checked (`tsc -b` and tsconfig.check.json). */
function typeCheckedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(new URL('.', import.meta.url))) {
    if (name.endsWith('.ts')) files.set(`examples/${name}`, read(`examples/${name}`));
  }
  for (const entry of readdirSync(new URL('../packages/', import.meta.url), { recursive: true })) {
    const path = String(entry);
    if (path.includes('/src/') && path.endsWith('.ts') && !path.includes('node_modules')) {
      files.set(`packages/${path}`, read(`packages/${path}`));
    }
  }
  return files;
}

it("keeps the README's quickstart identical to the tested, type-checked example", () => {
  expect(blocks(read('README.md'))[0]).toBe(read('examples/quickstart.ts'));
});

it.each(['README.md', 'packages/bulwark/README.md'])(
  'finds every ts block of %s verbatim in a type-checked file',
  (readmePath) => {
    const files = typeCheckedFiles();
    const readme = blocks(read(readmePath));
    expect(readme.length).toBeGreaterThanOrEqual(1);
    for (const block of readme) {
      const home = [...files].find(([, text]) => text.includes(block))?.[0];
      expect(home, `not found in examples/ or packages/*/src:\n${block}`).toBeDefined();
    }
  },
);

it("shows in the README's pipeline block the order and budgets createPipeline() builds", () => {
  const block = blocks(read('README.md'))[1] ?? '';
  const source = read('packages/bulwark/src/create-ollama.ts');
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
