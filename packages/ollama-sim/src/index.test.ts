import { describe, expect, it } from 'vitest';
import * as simulator from './index.js';

describe('the package index', () => {
  it('exports the documented API only, no internal helper', () => {
    expect(Object.keys(simulator).sort()).toEqual([
      'DEFAULT_MODELS',
      'FAULT_KINDS',
      'KNOWN_MODEL_NAMES',
      'RUNNER_ERROR_MESSAGE',
      'SERVER_BUSY_MESSAGE',
      'SimOptionError',
      'simulatedReply',
      'startOllamaSim',
    ]);
  });
});
