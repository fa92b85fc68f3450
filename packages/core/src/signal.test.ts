import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { neverAborted } from './never-aborted.js';
import { whenAborted } from './signal.js';

describe('whenAborted()', () => {
  it('calls the listener once when the signal aborts, and not after it stopped listening', () => {
    const controller = new AbortController();
    let calls = 0;
    whenAborted(controller.signal, () => calls++);
    const other = new AbortController();
    let stopped = 0;
    const stop = whenAborted(other.signal, () => stopped++);
    stop();
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
    controller.abort(new Error('stop'));
    controller.abort(new Error('again'));
    other.abort(new Error('stop'));
    expect(calls).toBe(1);
    expect(stopped).toBe(0);
  });

  it('adds no listener to a signal that can never abort or has aborted already', () => {
    const before = getEventListeners(neverAborted, 'abort').length;
    whenAborted(neverAborted, () => {})();
    whenAborted(neverAborted, () => {});
    expect(getEventListeners(neverAborted, 'abort')).toHaveLength(before);
    const aborted = AbortSignal.abort(new Error('done'));
    whenAborted(aborted, () => {});
    expect(getEventListeners(aborted, 'abort')).toHaveLength(0);
  });
});
