#!/usr/bin/env bash
# Packs every workspace package as it would be published and installs the tarballs into fresh
# temporary projects with npm, the way a user meets them:
#   1. every tarball: no *.tsbuildinfo, a LICENSE;
#   2. `npm install` of the tarballs, default and with --legacy-peer-deps (third-party packages
#      from the npm registry only);
#   3. an ESM script and a CommonJS script that call the simulator through createOllama();
#   4. `tsc --noEmit` with module nodenext and with bundler resolution, on TypeScript 5.4 and on
#      the version the repository builds with.
# Expects the packages to be built (`pnpm build`). Prints every failure and exits 1 if any.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
registry=https://registry.npmjs.org/
ts_old=5.4.5
ts_current=$(node -p 'require("./package.json").devDependencies.typescript')
types_node=$(node -p 'require("./package.json").devDependencies["@types/node"]')

work=$(mktemp -d "${TMPDIR:-/tmp}/bulwark-pack-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=()
fail() {
  failures+=("$1")
  printf 'pack-install: FAILED: %s\n' "$1" >&2
}
started=$SECONDS
ok() { printf 'pack-install: ok: %s (%d s)\n' "$1" $((SECONDS - started)); }

npm_quiet=(--no-audit --no-fund --loglevel=error --registry="$registry")

# 1. Pack and inspect every tarball.
mkdir -p "$work/tarballs"
if ! pnpm -r --filter './packages/*' pack --pack-destination "$work/tarballs" >"$work/pack.log" 2>&1; then
  cat "$work/pack.log" >&2
  fail "pnpm pack"
  exit 1
fi
tarballs=("$work"/tarballs/*.tgz)
if [ ${#tarballs[@]} -eq 0 ] || [ ! -e "${tarballs[0]}" ]; then
  fail "pnpm pack produced no tarball"
  exit 1
fi
for tarball in "${tarballs[@]}"; do
  name=$(basename "$tarball")
  listing=$(tar -tzf "$tarball")
  if grep -q '\.tsbuildinfo$' <<<"$listing"; then
    fail "$name ships $(grep '\.tsbuildinfo$' <<<"$listing" | tr '\n' ' ')"
  fi
  if ! grep -qx 'package/LICENSE' <<<"$listing"; then
    fail "$name has no LICENSE"
  fi
done
ok "${#tarballs[@]} tarballs packed and inspected"

# 2. A fresh project that depends on every tarball (overrides pin the packages' own cross
#    dependencies to the tarballs too), plus TypeScript 5.4 and the current one under aliases.
make_project() {
  local dir=$1 with_typescript=$2
  mkdir -p "$dir"
  node - "$dir" "$with_typescript" "$ts_old" "$ts_current" "$types_node" "${tarballs[@]}" <<'EOF'
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const [dir, withTypeScript, tsOld, tsCurrent, typesNode, ...tarballs] = process.argv.slice(2);
const dependencies = {};
for (const tarball of tarballs) {
  const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
  dependencies[manifest.name] = `file:${tarball}`;
}
const pkg = {
  name: 'bulwark-install-check',
  private: true,
  type: 'module',
  dependencies,
  devDependencies:
    withTypeScript === 'yes'
      ? {
          'typescript-old': `npm:typescript@${tsOld}`,
          'typescript-current': `npm:typescript@${tsCurrent}`,
          '@types/node': typesNode,
        }
      : {},
  overrides: { ...dependencies },
};
fs.writeFileSync(`${dir}/package.json`, JSON.stringify(pkg, null, 2));
EOF
  cat >"$dir/esm.mjs" <<'EOF'
import { startOllamaSim } from '@bulwark/ollama-sim';
import { BulwarkError, createOllama } from 'bulwark';

const sim = await startOllamaSim({ host: '127.0.0.1', port: 0 });
sim.setFaults([{ route: '/api/chat', status: 503, nth: 1 }]);
const ollama = createOllama({ host: sim.url, maxRetries: 2 });
try {
  const answer = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hi' }] });
  if (!answer.message.content) throw new Error('empty answer');
  // The client first loads the model (an empty-prompt generate); then the chat: a 503, its retry.
  const chats = sim.requests.filter((request) => request.route === '/api/chat').length;
  if (chats !== 2) throw new Error(`expected 2 chat requests (a 503, then the answer), saw ${chats}`);
  const missing = await ollama.chat({ model: 'no-such-model', messages: [] }).catch((error) => error);
  if (!BulwarkError.is(missing) || missing.status !== 404) throw new Error(`expected a 404 BulwarkError, got ${missing}`);
  console.log('esm: answered after a 503, 404 is a BulwarkError');
} finally {
  await ollama.close();
  await sim.close();
}
EOF
  cat >"$dir/cjs.cjs" <<'EOF'
const { startOllamaSim } = require('@bulwark/ollama-sim');
const { createOllama, BulwarkError } = require('bulwark');

(async () => {
  const sim = await startOllamaSim({ host: '127.0.0.1', port: 0 });
  sim.setFaults([{ route: '/api/chat', status: 503, nth: 1 }]);
  const ollama = createOllama({ host: sim.url, maxRetries: 2 });
  try {
    const answer = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hi' }] });
    if (!answer.message.content) throw new Error('empty answer');
    const chats = sim.requests.filter((request) => request.route === '/api/chat').length;
    if (chats !== 2) throw new Error(`expected 2 chat requests, saw ${chats}`);
    if (typeof BulwarkError.is !== 'function') throw new Error('BulwarkError.is is missing');
    console.log('cjs: answered after a 503');
  } finally {
    await ollama.close();
    await sim.close();
  }
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
EOF
  cat >"$dir/check.ts" <<'EOF'
import { createFetch } from '@bulwark/fetch';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import {
  BulwarkError,
  bulkhead,
  circuitBreaker,
  createOllama,
  instrument,
  retry,
  TimeoutError,
  timeout,
  wrap,
} from 'bulwark';

const sim: OllamaSim = await startOllamaSim({ port: 0 });
const policy = instrument(wrap(timeout({ totalMs: 60_000 }), retry({ maxAttempts: 3 }), circuitBreaker({ key: 'model' }), bulkhead({ limit: 4 })));
const ollama = createOllama({ host: sim.url, policy });
const answer = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hi' }] });
const content: string = answer.message.content;
for await (const part of await ollama.chat({ model: 'llama3.2', messages: [], stream: true })) {
  const piece: string = part.message.content;
  void piece;
}
const fetch = createFetch({ policy });
const response: Response = await fetch(`${sim.url}/api/tags`);
try {
  await ollama.list();
} catch (error) {
  if (error instanceof TimeoutError) console.log(error.phase, error.timeoutMs);
  if (BulwarkError.is(error)) console.log(error.code);
}
console.log(content, response.status);
EOF
  cat >"$dir/tsconfig.nodenext.json" <<'EOF'
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "strict": true, "noEmit": true, "types": ["node"] }, "files": ["check.ts"] }
EOF
  cat >"$dir/tsconfig.bundler.json" <<'EOF'
{ "compilerOptions": { "module": "esnext", "moduleResolution": "bundler", "target": "es2022", "strict": true, "noEmit": true, "types": ["node"] }, "files": ["check.ts"] }
EOF
}

for mode in default legacy-peer-deps; do
  dir=$work/project-$mode
  # The type checks run in the default project only: the second one installs no TypeScript.
  if [ "$mode" = default ]; then make_project "$dir" yes; else make_project "$dir" no; fi
  flags=(--prefer-offline)
  [ "$mode" = legacy-peer-deps ] && flags+=(--legacy-peer-deps)
  if ! (cd "$dir" && npm install "${npm_quiet[@]}" "${flags[@]}" >"$dir/install.log" 2>&1); then
    cat "$dir/install.log" >&2
    fail "npm install ($mode)"
    continue
  fi
  ok "npm install ($mode)"
  for script in esm.mjs cjs.cjs; do
    if output=$(cd "$dir" && timeout 60 node "$script" 2>&1); then
      ok "$script ($mode): $output"
    else
      printf '%s\n' "$output" >&2
      fail "node $script ($mode)"
    fi
  done
  if [ "$mode" = default ]; then
    for ts in old current; do
      version=$(node -p "require('$dir/node_modules/typescript-$ts/package.json').version")
      for config in nodenext bundler; do
        if output=$(cd "$dir" && timeout 120 node "node_modules/typescript-$ts/bin/tsc" -p "tsconfig.$config.json" 2>&1); then
          ok "tsc $version, $config"
        else
          printf '%s\n' "$output" >&2
          fail "tsc $version with $config"
        fi
      done
    done
  fi
done

if [ ${#failures[@]} -gt 0 ]; then
  printf '\npack-install: %d failure(s):\n' "${#failures[@]}" >&2
  printf '  - %s\n' "${failures[@]}" >&2
  exit 1
fi
echo 'pack-install: every check passed'
