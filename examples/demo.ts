// The `pnpm start` demonstration. It runs against the embedded Ollama simulator unless OLLAMA_HOST is set.
console.log('Bulwark: the demonstration is not available yet; run `pnpm test` to see the suite.');
