// Runs publint on every workspace package and fails on any error or warning.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const root = new URL('../packages/', import.meta.url).pathname;
let problems = 0;
for (const name of readdirSync(root)) {
  const pkgDir = join(root, name);
  const { messages, pkg } = await publint({ pkgDir, level: 'warning', strict: true });
  for (const message of messages) {
    problems++;
    console.error(`${pkg.name}: ${message.type}: ${formatMessage(message, pkg)}`);
  }
}
if (problems > 0) {
  console.error(`publint: ${problems} problem(s)`);
  process.exit(1);
}
console.log('publint: every package is clean');
