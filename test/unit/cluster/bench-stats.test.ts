// The cluster benchmark's pure helpers: nearest-rank percentiles (every reported figure is a
// measured sample), the median, and the Markdown table and cell formatting.
import t from 'tap';
import { cell, markdownTable, median, percentile, round } from '../../../benchmarks/cluster/stats.js';

t.test('median and nearest-rank percentiles', async (t) => {
  t.equal(median([]), undefined);
  t.equal(percentile([], 95), undefined);
  t.equal(median([5]), 5);
  t.equal(median([3, 1, 2]), 2, 'odd count: the middle sample');
  t.equal(median([4, 1, 3, 2]), 2.5, 'even count: mean of the two middle samples');
  const samples = [900, 100, 500, 300, 700];
  t.equal(percentile(samples, 95), 900, 'p95 of 5 samples is the largest');
  t.equal(percentile(samples, 50), 500);
  t.equal(percentile(samples, 20), 100, 'rank ceil(0.2 × 5) = 1');
  t.equal(percentile(samples, 100), 900);
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
  t.equal(percentile(hundred, 95), 95, 'rank 95 of 1..100');
  t.same(samples, [900, 100, 500, 300, 700], 'the input is not reordered');
});

t.test('cells, rounding and tables', async (t) => {
  t.equal(cell(undefined), '–');
  t.equal(cell(Number.NaN), '–');
  t.equal(cell(1234567.8), '1,234,568');
  t.equal(cell(2.345, 2), '2.35');
  t.equal(round(12.345, 1), 12.3);
  t.equal(round(2 / 3, 2), 0.67);
  t.equal(markdownTable(['a', 'b'], [['1', '2']]), '| a | b |\n| --- | --- |\n| 1 | 2 |');
});
