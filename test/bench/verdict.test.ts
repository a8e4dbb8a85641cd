import { describe, expect, it } from 'vitest';
import { formatMs, formatVerdict, type JudgedRun, judge } from '../../bench/verdict.ts';

const budget = { p99Ms: 1000, timeoutMs: 2000 };
const healthy: JudgedRun = { responses: 500, non2xx: 0, timeouts: 0, errors: 0, latency: { p99: 12.5 } };

describe('verdict', () => {
  it('passes a run under the p99 budget with no timeout and no error', () => {
    const verdict = judge(healthy, 'paced at 20 req/s', budget);
    expect(verdict.pass).toBe(true);
    expect(verdict.basis).toBe('paced at 20 req/s');
    expect(formatVerdict(verdict)).toBe(
      'PASS (paced at 20 req/s): p99 12.5 ms < budget 1000 ms; 0 over 2000 ms; 0 non-2xx, 0 connection errors',
    );
  });

  it('fails a p99 at or over the budget, and says by how much', () => {
    const verdict = judge({ ...healthy, latency: { p99: 1000 } }, 'saturated', budget);
    expect(verdict.pass).toBe(false);
    expect(formatVerdict(verdict)).toBe('FAIL (saturated): p99 1000 ms >= budget 1000 ms');
  });

  it('fails on a single timeout, non-2xx answer or connection error, whatever the latency', () => {
    expect(judge({ ...healthy, timeouts: 1 }, 'x', budget).pass).toBe(false);
    expect(judge({ ...healthy, non2xx: 1 }, 'x', budget).pass).toBe(false);
    expect(judge({ ...healthy, errors: 1 }, 'x', budget).pass).toBe(false);
    const failed = judge({ ...healthy, non2xx: 3, errors: 1 }, 'x', budget);
    expect(failed.checks.find((check) => check.name === 'errors')?.detail).toBe(
      '3 non-2xx, 1 connection errors',
    );
  });

  it('fails a run that measured nothing (an unreachable target is not a pass)', () => {
    const verdict = judge({ ...healthy, responses: 0, latency: { p99: Number.NaN } }, 'x', budget);
    expect(verdict.pass).toBe(false);
    expect(formatVerdict(verdict)).toContain('0 requests measured');
  });

  it('honours a custom budget', () => {
    expect(judge({ ...healthy, latency: { p99: 40 } }, 'x', { p99Ms: 25, timeoutMs: 1000 }).pass).toBe(false);
  });

  it('prints milliseconds with sensible precision', () => {
    expect([0.4123, 3.456, 12.34, 1234.5, Number.NaN].map(formatMs)).toEqual([
      '0.412',
      '3.46',
      '12.3',
      '1235',
      '-',
    ]);
  });
});
