/**
 * The benchmarks measure the built packages (`dist/`), which is what an install runs. Run through
 * tsx with the `bulwark-source` condition, the TypeScript sources carry esbuild's `__name` helper on
 * every function created per call (a closure in a policy's `run`, say), a cost no user pays that
 * made the policy pipeline look a third more expensive than it is. This stops a run that would
 * measure the sources.
 */
export function assertBuilt(): void {
  const resolved = import.meta.resolve('@bulwark/core');
  if (!resolved.includes('/dist/')) {
    throw new Error(
      `the benchmarks measure the built packages, but @bulwark/core resolves to ${resolved}: run \`pnpm build\`, then tsx without --conditions=bulwark-source`,
    );
  }
}
