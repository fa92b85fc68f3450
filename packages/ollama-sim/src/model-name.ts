// Ollama's model names (types/model/name.go): host/namespace/model:tag with defaults.

const DEFAULT_HOST = 'registry.ollama.ai';
const DEFAULT_NAMESPACE = 'library';
const DEFAULT_TAG = 'latest';

/** A parsed model name with Ollama's defaults filled in. */
export interface ModelName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

function cutLast(text: string, separator: string): [string, string, boolean] {
  const index = text.lastIndexOf(separator);
  if (index < 0) return [text, '', false];
  return [text.slice(0, index) || '?', text.slice(index + 1) || '?', true];
}

/** `model.ParseName`: splits and fills in the default host, namespace and tag. */
export function parseModelName(text: string): ModelName {
  let rest = text;
  let tag = '';
  if (rest.lastIndexOf(':') > rest.lastIndexOf('/')) [rest, tag] = cutLast(rest, ':');
  let model: string;
  let namespace = '';
  let host = '';
  let found: boolean;
  [rest, model, found] = cutLast(rest, '/');
  if (!found) {
    model = rest;
  } else {
    [rest, namespace, found] = cutLast(rest, '/');
    if (!found) {
      namespace = rest;
    } else {
      const scheme = rest.indexOf('://');
      host = scheme >= 0 ? rest.slice(scheme + 3) : rest;
    }
  }
  return {
    host: host || DEFAULT_HOST,
    namespace: namespace || DEFAULT_NAMESPACE,
    model,
    tag: tag || DEFAULT_TAG,
  };
}

function isValidPart(kind: 'host' | 'namespace' | 'model' | 'tag', part: string): boolean {
  const max = kind === 'host' ? 350 : 80;
  if (part.length < 1 || part.length > max) return false;
  for (let index = 0; index < part.length; index++) {
    const code = part.charCodeAt(index);
    const alphanumeric =
      (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 95;
    if (index === 0) {
      if (!alphanumeric) return false;
      continue;
    }
    if (alphanumeric || code === 45) continue;
    if (code === 46 && kind !== 'namespace') continue;
    if (code === 58 && kind === 'host') continue;
    return false;
  }
  return true;
}

/** `Name.IsValid`: every part present and made of allowed characters. */
export function isValidModelName(name: ModelName): boolean {
  return (
    isValidPart('host', name.host) &&
    isValidPart('namespace', name.namespace) &&
    isValidPart('model', name.model) &&
    isValidPart('tag', name.tag)
  );
}

/** `Name.String`: the fully qualified form, as capability errors show it. */
export function fullModelName(name: ModelName): string {
  return `${name.host}/${name.namespace}/${name.model}:${name.tag}`;
}

/** `Name.DisplayShortest`: `llama3.2:latest`, `user/model:tag`, `host/ns/model:tag`. */
export function shortModelName(name: ModelName): string {
  if (name.host.toLowerCase() !== DEFAULT_HOST)
    return `${name.host}/${name.namespace}/${name.model}:${name.tag}`;
  if (name.namespace.toLowerCase() !== DEFAULT_NAMESPACE)
    return `${name.namespace}/${name.model}:${name.tag}`;
  return `${name.model}:${name.tag}`;
}

/** The key models are stored under: case-insensitive, as Ollama matches existing names. */
export function modelKey(name: ModelName): string {
  return fullModelName(name).toLowerCase();
}
