import { ConnectionError, ManualClock, ResponseError, TimeoutError } from '@bulwark/core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OUTLIER_DETECTION, healthy, OutlierDetector, verdictOf } from './outlier-detection.js';

const settings = { ...DEFAULT_OUTLIER_DETECTION, consecutiveFailures: 3, maxEjectionPercent: 50 };

describe('verdictOf', () => {
  it('counts connection failures, connect timeouts and 5xx; not 503, a cancel, a load wait or another timeout', () => {
    const reset = new ConnectionError({ reason: 'reset', message: 'reset' });
    expect(verdictOf(reset, undefined)).toBe('failure');
    expect(verdictOf(new ResponseError({ status: 500 }), undefined)).toBe('failure');
    expect(verdictOf(new ResponseError({ status: 502 }), undefined)).toBe('failure');
    expect(verdictOf(new ResponseError({ status: 503 }), undefined)).toBe('neutral');
    expect(verdictOf(new ResponseError({ status: 404 }), undefined)).toBe('success');
    expect(verdictOf(new TimeoutError({ phase: 'connect', timeoutMs: 1, elapsedMs: 1 }), undefined)).toBe(
      'failure',
    );
    expect(verdictOf(new TimeoutError({ phase: 'load', timeoutMs: 1, elapsedMs: 1 }), undefined)).toBe(
      'neutral',
    );
    expect(verdictOf(new TimeoutError({ phase: 'first-token', timeoutMs: 1, elapsedMs: 1 }), undefined)).toBe(
      'neutral',
    );
    const cancelled = AbortSignal.abort(new Error('user'));
    expect(verdictOf(reset, cancelled)).toBe('neutral');
    expect(verdictOf(undefined, undefined)).toBe('success');
  });
});

describe('OutlierDetector', () => {
  it('ejects after consecutive failures for a growing time, and returns a host only after a successful probe', () => {
    const clock = new ManualClock();
    const hosts = [healthy(), healthy()];
    const host = hosts[0]!;
    const detector = new OutlierDetector(settings, clock, hosts);
    expect(detector.record(host, 'failure', false)).toBe(false);
    expect(detector.record(host, 'success', false)).toBe(false);
    detector.record(host, 'failure', false);
    detector.record(host, 'neutral', false);
    detector.record(host, 'failure', false);
    expect(detector.state(host)).toBe('healthy');
    expect(detector.record(host, 'failure', false)).toBe(true);
    expect(detector.state(host)).toBe('ejected');
    expect(host.ejectedUntil).toBe(clock.now() + 30_000);
    clock.advance(30_000);
    expect(detector.state(host)).toBe('probe');
    // The probe fails: ejected again, twice as long.
    expect(detector.record(host, 'failure', true)).toBe(true);
    expect(host.ejectedUntil).toBe(clock.now() + 60_000);
    clock.advance(60_000);
    expect(detector.state(host)).toBe('probe');
    detector.record(host, 'success', true);
    expect(detector.state(host)).toBe('healthy');
    // Healthy for one base ejection time: the next ejection is one step shorter (2 → 1, +1 = 2).
    clock.advance(30_000);
    for (let index = 0; index < 3; index++) detector.record(host, 'failure', false);
    expect(host.ejectedUntil).toBe(clock.now() + 60_000);
  });

  it('caps the share of hosts ejected at once, always allowing one, and caps the ejection time', () => {
    const clock = new ManualClock();
    const hosts = [healthy(), healthy(), healthy(), healthy()];
    const detector = new OutlierDetector(
      { ...settings, maxEjectionPercent: 10, maxEjectionMs: 45_000 },
      clock,
      hosts,
    );
    for (let index = 0; index < 3; index++) detector.record(hosts[0]!, 'failure', false);
    for (let index = 0; index < 3; index++) detector.record(hosts[1]!, 'failure', false);
    expect(detector.state(hosts[0]!)).toBe('ejected');
    expect(detector.state(hosts[1]!)).toBe('healthy');
    expect(detector.ejectedCount()).toBe(1);
    clock.advance(30_000);
    detector.record(hosts[0]!, 'failure', true);
    expect(hosts[0]!.ejectedUntil).toBe(clock.now() + 45_000);
  });
});
