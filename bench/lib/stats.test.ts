import { describe, expect, it } from 'vitest';
import { median, quantile, summarize } from './stats.js';
import { renderTable } from './table.js';

describe('bench statistics', () => {
  it('takes medians of odd and even rounds', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('takes nearest-rank quantiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(values, 0.5)).toBe(50);
    expect(quantile(values, 0.99)).toBe(99);
    expect(quantile(values, 1)).toBe(100);
  });

  it('summarizes the spread around the median', () => {
    expect(summarize([90, 100, 110])).toMatchObject({ median: 100, min: 90, max: 110, spread: 0.2 });
  });

  it('renders an aligned table', () => {
    expect(renderTable(['a', 'bb'], [['xyz', '1']])).toBe('| a   | bb |\n|-----|----|\n| xyz | 1  |');
  });
});
