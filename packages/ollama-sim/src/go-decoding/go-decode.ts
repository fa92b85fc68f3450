// Decodes a request body the way Ollama's handlers do (gin's ShouldBindJSON, that is Go's
// json.Decoder into a struct), so a bad body gets the same 400 text: Go's syntax errors, its
// "cannot unmarshal" type errors, custom unmarshaler errors, and io.EOF for an empty body.

/** A Go type, as far as decoding errors can tell. */
export type GoType =
  | { readonly kind: 'string' | 'bool' | 'int' | 'float' | 'any' }
  | { readonly kind: 'slice'; readonly name: string; readonly of: GoType }
  | { readonly kind: 'map'; readonly name: string; readonly of: GoType }
  | { readonly kind: 'bytes'; readonly name: string }
  | {
      readonly kind: 'struct';
      /** The struct's own name, as error messages show it (`ChatRequest`). */
      readonly name: string;
      /** The type's full name (`api.ChatRequest`). */
      readonly typeName: string;
      readonly fields: Readonly<Record<string, GoType>>;
      /**
       * The type has its own UnmarshalJSON that decodes an alias (like api.Message): errors inside
       * abort at once, and a whole-value mismatch names the alias type.
       */
      readonly aliasName?: string;
      /** Post-processing of the decoded object (e.g. lower-casing a role). */
      readonly finish?: (value: Record<string, unknown>) => void;
    }
  | {
      readonly kind: 'custom';
      /** Returns the error text of the type's UnmarshalJSON, or undefined. */
      readonly check: (value: unknown) => string | undefined;
    };

export const goString: GoType = { kind: 'string' };
export const goBool: GoType = { kind: 'bool' };
export const goInt: GoType = { kind: 'int' };
export const goFloat: GoType = { kind: 'float' };
export const goAny: GoType = { kind: 'any' };

/** Outcome of decoding a body. `eof` means the body was empty (Ollama: `missing request body`). */
export type GoDecodeResult = { value: unknown } | { error: string; eof?: true };

const EOF_RESULT: GoDecodeResult = { error: 'EOF', eof: true };

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13;
}

/** Go's quoteChar: how the json scanner names a byte in its errors. */
export function quoteChar(code: number): string {
  if (code === 39) return "'\\''";
  if (code === 34) return `'"'`;
  const named: Record<number, string> = {
    7: '\\a',
    8: '\\b',
    9: '\\t',
    10: '\\n',
    11: '\\v',
    12: '\\f',
    13: '\\r',
    92: '\\\\',
  };
  const name = named[code];
  if (name) return `'${name}'`;
  if (code < 32 || code === 127) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  if ((code >= 0x80 && code <= 0xa0) || code === 0xad) return `'\\u${code.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(code)}'`;
}

class SyntaxFailure {
  constructor(readonly message: string) {}
}

/** Scans the first JSON value of `bytes` like Go's decoder; returns its end offset or throws SyntaxFailure. */
function scanFirstValue(bytes: Uint8Array): number {
  let position = 0;
  const length = bytes.length;
  const fail = (code: number, context: string): never => {
    throw new SyntaxFailure(`invalid character ${quoteChar(code)} ${context}`);
  };
  const eof = (): never => {
    throw new SyntaxFailure('unexpected EOF');
  };
  const skipSpace = () => {
    while (position < length && isSpace(bytes[position] as number)) position++;
  };
  const next = (): number => {
    if (position >= length) eof();
    return bytes[position] as number;
  };
  const literal = (word: string) => {
    for (let index = 1; index < word.length; index++) {
      position++;
      const code = next();
      if (code !== word.charCodeAt(index)) fail(code, `in literal ${word} (expecting '${word[index]}')`);
    }
    position++;
  };
  const digits = () => {
    while (position < length) {
      const code = bytes[position] as number;
      if (code < 48 || code > 57) break;
      position++;
    }
  };
  const number = (topLevel: boolean) => {
    let code = next();
    if (code === 45) {
      position++;
      code = next();
      if (code < 48 || code > 57) fail(code, 'in numeric literal');
    }
    position++;
    if (code !== 48) digits();
    if (position >= length) {
      if (topLevel) return;
      eof();
    }
    code = bytes[position] as number;
    if (code === 46) {
      position++;
      if (position >= length) eof();
      code = bytes[position] as number;
      if (code < 48 || code > 57) fail(code, 'after decimal point in numeric literal');
      digits();
      if (position >= length) {
        if (topLevel) return;
        eof();
      }
      code = bytes[position] as number;
    }
    if (code === 101 || code === 69) {
      position++;
      code = next();
      if (code === 43 || code === 45) {
        position++;
        code = next();
      }
      if (code < 48 || code > 57) fail(code, 'in exponent of numeric literal');
      digits();
    }
  };
  const string = () => {
    position++;
    for (;;) {
      const code = next();
      if (code === 34) {
        position++;
        return;
      }
      if (code === 92) {
        position++;
        const escaped = next();
        if (escaped === 117) {
          for (let index = 0; index < 4; index++) {
            position++;
            const hex = next();
            const isHex = (hex >= 48 && hex <= 57) || (hex >= 65 && hex <= 70) || (hex >= 97 && hex <= 102);
            if (!isHex) fail(hex, 'in \\u hexadecimal character escape');
          }
        } else if (!'"\\/bfnrt'.includes(String.fromCharCode(escaped))) {
          fail(escaped, 'in string escape code');
        }
        position++;
        continue;
      }
      if (code < 32) fail(code, 'in string literal');
      position++;
    }
  };
  const value = (topLevel: boolean) => {
    skipSpace();
    const code = next();
    if (code === 123) {
      position++;
      skipSpace();
      if (next() === 125) {
        position++;
        return;
      }
      for (;;) {
        skipSpace();
        const keyStart = next();
        if (keyStart !== 34) fail(keyStart, 'looking for beginning of object key string');
        string();
        skipSpace();
        const colon = next();
        if (colon !== 58) fail(colon, 'after object key');
        position++;
        value(false);
        skipSpace();
        const after = next();
        position++;
        if (after === 125) return;
        if (after !== 44) fail(after, 'after object key:value pair');
      }
    }
    if (code === 91) {
      position++;
      skipSpace();
      if (next() === 93) {
        position++;
        return;
      }
      for (;;) {
        value(false);
        skipSpace();
        const after = next();
        position++;
        if (after === 93) return;
        if (after !== 44) fail(after, 'after array element');
      }
    }
    if (code === 34) return string();
    if (code === 45 || (code >= 48 && code <= 57)) return number(topLevel);
    if (code === 116) return literal('true');
    if (code === 102) return literal('false');
    if (code === 110) return literal('null');
    return fail(code, 'looking for beginning of value');
  };
  value(true);
  return position;
}

/**
 * Parses a body as Go's json.Decoder reads one value: an empty body is EOF; a syntax error in the
 * first value gets Go's text; anything after a complete first value is ignored.
 */
export function parseGoJson(body: Uint8Array | string): GoDecodeResult {
  const text =
    typeof body === 'string'
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  try {
    return { value: JSON.parse(text) };
  } catch {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    let start = 0;
    while (start < bytes.length && isSpace(bytes[start] as number)) start++;
    if (start === bytes.length) return EOF_RESULT;
    try {
      const end = scanFirstValue(bytes);
      return { value: JSON.parse(Buffer.from(bytes.subarray(0, end)).toString('utf8')) };
    } catch (error) {
      if (error instanceof SyntaxFailure) return { error: error.message };
      return { error: 'unexpected EOF' };
    }
  }
}

function jsonKind(value: unknown): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return 'array';
  return 'object';
}

function typeText(type: GoType): string {
  switch (type.kind) {
    case 'string':
      return 'string';
    case 'bool':
      return 'bool';
    case 'int':
      return 'int';
    case 'float':
      return 'float64';
    case 'slice':
    case 'map':
    case 'bytes':
      return type.name;
    case 'struct':
      return type.aliasName ?? type.typeName;
    default:
      return 'interface {}';
  }
}

interface TypeErrorInfo {
  value: string;
  type: string;
  struct: string | undefined;
  field: string[];
}

function typeErrorText(error: TypeErrorInfo): string {
  if (error.struct !== undefined || error.field.length > 0) {
    return `json: cannot unmarshal ${error.value} into Go struct field ${error.struct ?? ''}.${error.field.join('.')} of type ${error.type}`;
  }
  return `json: cannot unmarshal ${error.value} into Go value of type ${error.type}`;
}

/** An error that aborts decoding at once (custom unmarshalers). */
class Abort {
  constructor(
    readonly text: string | undefined,
    readonly typeError: TypeErrorInfo | undefined,
  ) {}
}

/** Padded standard base64 without line breaks: valid as it is. */
const strictBase64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isBase64Digit(code: number): boolean {
  return (
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    (code >= 48 && code <= 57) ||
    code === 43 ||
    code === 47
  );
}

const corrupt = (offset: number) => `illegal base64 data at input byte ${offset}`;

/**
 * The error `base64.StdEncoding.Decode` returns for a JSON string decoded into a `[]byte` (an
 * image), with the offset Go computes (in UTF-8 bytes; line breaks skipped), or undefined when
 * valid. Padding is required.
 */
export function base64Error(text: string): string | undefined {
  if (text.length % 4 === 0 && strictBase64.test(text)) return undefined;
  const source = Buffer.from(text, 'utf8');
  const length = source.length;
  const skipLineBreaks = (from: number) => {
    let at = from;
    while (at < length && (source[at] === 10 || source[at] === 13)) at++;
    return at;
  };
  let at = 0;
  for (;;) {
    // decodeQuantum: up to four digits, line breaks skipped.
    for (let digits = 0; digits < 4; digits++) {
      if (at === length) return digits === 0 ? undefined : corrupt(at - digits);
      const code = source[at++] as number;
      if (isBase64Digit(code)) continue;
      if (code === 10 || code === 13) {
        digits--;
        continue;
      }
      if (code !== 61 || digits < 2) return corrupt(at - 1);
      if (digits === 2) {
        // "==" expected.
        at = skipLineBreaks(at);
        if (at === length) return corrupt(length);
        if (source[at] !== 61) return corrupt(at - 1);
        at++;
      }
      at = skipLineBreaks(at);
      return at < length ? corrupt(at) : undefined;
    }
  }
}

class Walker {
  /** The first error, kept while decoding goes on (Go's `saveError`). */
  saved: TypeErrorInfo | string | undefined;
  struct: string | undefined;
  fields: string[] = [];
  /** Inside a type with its own UnmarshalJSON: the struct that holds it, and how deep. */
  aliasOuter: string | undefined;
  aliasDepth = 0;

  reset(): void {
    this.saved = undefined;
    this.struct = undefined;
    this.fields.length = 0;
    this.aliasOuter = undefined;
    this.aliasDepth = 0;
  }

  save(value: unknown, type: GoType, kindText?: string): void {
    const error: TypeErrorInfo = {
      value: kindText ?? jsonKind(value),
      type: typeText(type),
      struct: this.aliasDepth > 0 ? this.aliasOuter : this.struct,
      field: [...this.fields],
    };
    // A custom UnmarshalJSON returns its first error at once, aborting the whole decode.
    if (this.aliasDepth > 0) throw new Abort(undefined, error);
    this.saved ??= error;
  }

  /** Saves an error that is not a type mismatch (a bad base64 string); aborts inside a custom UnmarshalJSON. */
  saveText(text: string): void {
    if (this.aliasDepth > 0) throw new Abort(text, undefined);
    this.saved ??= text;
  }

  /** Walks `value` as `type`; returns the value to keep (keys renamed to the struct's field names). */
  walk(value: unknown, type: GoType): unknown {
    if (value === null) return value;
    switch (type.kind) {
      case 'any':
        return value;
      case 'string':
        if (typeof value !== 'string') this.save(value, type);
        return value;
      case 'bool':
        if (typeof value !== 'boolean') this.save(value, type);
        return value;
      case 'float':
        if (typeof value !== 'number') this.save(value, type);
        return value;
      case 'int':
        if (typeof value !== 'number') this.save(value, type);
        else if (!Number.isSafeInteger(value)) this.save(value, type, `number ${JSON.stringify(value)}`);
        return value;
      case 'bytes':
        if (typeof value !== 'string') {
          if (!Array.isArray(value)) this.save(value, type);
          return value;
        }
        {
          const error = base64Error(value);
          if (error !== undefined) this.saveText(error);
        }
        return value;
      case 'custom': {
        const message = type.check(value);
        if (message !== undefined) throw new Abort(message, undefined);
        return value;
      }
      case 'slice':
        if (!Array.isArray(value)) {
          this.save(value, type);
          return value;
        }
        for (let index = 0; index < value.length; index++) value[index] = this.walk(value[index], type.of);
        return value;
      case 'map':
        if (typeof value !== 'object' || Array.isArray(value)) {
          this.save(value, type);
          return value;
        }
        if (type.of.kind !== 'any') {
          const record = value as Record<string, unknown>;
          for (const key of Object.keys(record)) record[key] = this.walk(record[key], type.of);
        }
        return value;
      case 'struct':
        if (type.aliasName === undefined) return this.walkStruct(value, type);
        if (this.aliasDepth++ === 0) this.aliasOuter = this.struct;
        try {
          return this.walkStruct(value, type);
        } finally {
          this.aliasDepth--;
        }
    }
  }

  walkStruct(value: unknown, type: GoType & { kind: 'struct' }): unknown {
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.save(value, type);
      return value;
    }
    const source = value as Record<string, unknown>;
    let target = source;
    const outerStruct = this.struct;
    const depth = this.fields.length;
    for (const key in source) {
      let name = key;
      let fieldType = Object.hasOwn(type.fields, key) ? type.fields[key] : undefined;
      if (!fieldType) {
        const lower = key.toLowerCase();
        for (const candidate in type.fields) {
          if (candidate.toLowerCase() === lower) {
            name = candidate;
            fieldType = type.fields[candidate];
            break;
          }
        }
        if (!fieldType) continue;
        if (target === source) target = { ...source };
        target[name] = source[key];
        delete target[key];
      }
      this.struct = type.name;
      this.fields.push(name);
      target[name] = this.walk(source[key], fieldType);
      this.fields.length = depth;
      this.struct = outerStruct;
    }
    type.finish?.(target);
    return target;
  }
}

/** Decoding is synchronous, so one walker serves every request. */
const walker = new Walker();

/**
 * The fast path: whether `value` decodes as the type without any error and without a key to
 * rename, that is, whether the walker would keep it as it is. Checkers are compiled once per
 * type, so each check is a small monomorphic function instead of the walker's switch over
 * every type's shape. A struct's `finish` runs as the walker runs it: it must be idempotent, as
 * a value the fast path rejects is walked again from the start.
 */
type Checker = (value: unknown) => boolean;

const checkers = new WeakMap<GoType, Checker>();

function checkerFor(type: GoType): Checker {
  let checker = checkers.get(type);
  if (!checker) {
    checker = compileChecker(type);
    checkers.set(type, checker);
  }
  return checker;
}

function compileChecker(type: GoType): Checker {
  switch (type.kind) {
    case 'any':
      return () => true;
    case 'string':
      return (value) => value === null || typeof value === 'string';
    case 'bool':
      return (value) => value === null || typeof value === 'boolean';
    case 'float':
      return (value) => value === null || typeof value === 'number';
    case 'int':
      return (value) => value === null || Number.isSafeInteger(value);
    case 'bytes':
      return (value) =>
        value === null ||
        Array.isArray(value) ||
        (typeof value === 'string' && base64Error(value) === undefined);
    case 'custom': {
      const check = type.check;
      return (value) => value === null || check(value) === undefined;
    }
    case 'slice': {
      let element: Checker | undefined;
      return (value) => {
        if (value === null) return true;
        if (!Array.isArray(value)) return false;
        element ??= checkerFor(type.of);
        for (let index = 0; index < value.length; index++) if (!element(value[index])) return false;
        return true;
      };
    }
    case 'map': {
      if (type.of.kind === 'any') return (value) => typeof value === 'object' && !Array.isArray(value);
      let element: Checker | undefined;
      return (value) => {
        if (value === null) return true;
        if (typeof value !== 'object' || Array.isArray(value)) return false;
        element ??= checkerFor(type.of);
        const record = value as Record<string, unknown>;
        for (const key in record) if (Object.hasOwn(record, key) && !element(record[key])) return false;
        return true;
      };
    }
    case 'struct': {
      let fields: Map<string, Checker> | undefined;
      const folded = new Set(Object.keys(type.fields).map((name) => name.toLowerCase()));
      const finish = type.finish;
      return (value) => {
        if (value === null) return true;
        if (typeof value !== 'object' || Array.isArray(value)) return false;
        fields ??= new Map(Object.entries(type.fields).map(([name, field]) => [name, checkerFor(field)]));
        const record = value as Record<string, unknown>;
        for (const key in record) {
          const field = fields.get(key);
          if (field) {
            if (!field(record[key])) return false;
          } else if (folded.has(key.toLowerCase())) {
            return false;
          }
        }
        finish?.(record);
        return true;
      };
    }
  }
}

/**
 * Checks a parsed body against the Go struct it is decoded into. Returns the body (keys matched
 * case-insensitively, as Go does, renamed to the field names) or Go's error text.
 */
export function decodeInto(value: unknown, type: GoType & { kind: 'struct' }): GoDecodeResult {
  walker.reset();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    if (value === null) return { value: {} };
    return {
      error: typeErrorText({ value: jsonKind(value), type: type.typeName, struct: undefined, field: [] }),
    };
  }
  if (checkerFor(type)(value)) return { value };
  try {
    const result = walker.walk(value, type);
    const saved = walker.saved;
    if (saved !== undefined) return { error: typeof saved === 'string' ? saved : typeErrorText(saved) };
    return { value: result };
  } catch (error) {
    if (error instanceof Abort) {
      if (error.typeError) return { error: typeErrorText(error.typeError) };
      return { error: error.text ?? 'unexpected error' };
    }
    throw error;
  }
}
