import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveOptions } from './resolve-options.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('resolveOptions()', () => {
  it('emits the v1.41.1 names and no content by default', () => {
    vi.stubEnv('OTEL_SEMCONV_STABILITY_OPT_IN', '');
    vi.stubEnv('OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT', '');
    expect(resolveOptions(undefined, 'test')).toMatchObject({
      name: 'default',
      captureContent: false,
      emitV1: true,
      emitLatest: false,
      timePerOutputChunk: true,
    });
  });

  it('reads OTEL_SEMCONV_STABILITY_OPT_IN and OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT', () => {
    vi.stubEnv('OTEL_SEMCONV_STABILITY_OPT_IN', 'http, gen_ai_latest_experimental');
    vi.stubEnv('OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT', 'TRUE');
    expect(resolveOptions(undefined, 'test')).toMatchObject({
      captureContent: true,
      emitV1: false,
      emitLatest: true,
    });
  });

  it('lets options override the environment', () => {
    vi.stubEnv('OTEL_SEMCONV_STABILITY_OPT_IN', 'gen_ai_latest_experimental');
    vi.stubEnv('OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT', 'true');
    expect(resolveOptions({ semconv: 'both', captureContent: false }, 'test')).toMatchObject({
      captureContent: false,
      emitV1: true,
      emitLatest: true,
    });
    expect(resolveOptions({ semconv: 'v1.41.1' }, 'test')).toMatchObject({ emitV1: true, emitLatest: false });
  });

  it('rejects a logger without emit()', () => {
    expect(() => resolveOptions({ logger: {} as never }, 'test')).toThrow(/"logger"/);
  });
});
