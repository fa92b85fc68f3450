import { execFileSync } from 'node:child_process';

/**
 * The path of a system binary (Debian's `prometheus`, `promtool`), or `undefined` when it is not
 * installed. Outside CI a test that needs it skips with a loud message; with `CI=true` it must run,
 * so a missing binary is an error.
 */
export function requireBinary(name: string): string | undefined {
  let path: string | undefined;
  try {
    path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    path = undefined;
  }
  if (path) return path;
  if (process.env.CI === 'true')
    throw new Error(
      `${name} is not installed, and CI=true: install Debian's prometheus package (.ci/run does)`,
    );
  console.warn(
    `\n*** SKIPPED: ${name} is not installed (apt-get install prometheus). These tests run in CI. ***\n`,
  );
  return undefined;
}
