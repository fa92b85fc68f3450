import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Checks `Authorization: Bearer <key>` against a list of keys in constant time per key. Only
 * digests are kept; the keys never appear in errors, logs or spans.
 */
export function createAuthorizer(
  keys: readonly string[],
): ((header: string | undefined) => boolean) | undefined {
  if (keys.length === 0) return undefined;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  const digests = keys.map(digest);
  return (header) => {
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    const given = digest(match?.[1] ?? '');
    let ok = false;
    for (const expected of digests) ok = timingSafeEqual(given, expected) || ok;
    return ok && match !== null;
  };
}
