/**
 * @module PASS or FAIL against Amplitude's window: the destination must answer 200 within 1-2 s,
 * and a timeout or an error means a retry (docs/amplitude.md). The budget is configurable.
 */

export interface Budget {
  /** p99 latency must stay under this. @default 1000 */
  p99Ms: number;
  /** Answers slower than this are timeouts. @default 2000 */
  timeoutMs: number;
}

/** The numbers a verdict reads; a ServerSummary has them all. */
export interface JudgedRun {
  responses: number;
  non2xx: number;
  timeouts: number;
  errors: number;
  latency: { p99: number };
}

export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

export interface Verdict {
  pass: boolean;
  /** Which run the verdict read: the paced one when there is one (latency at a rate is what Amplitude feels). */
  basis: string;
  checks: Check[];
}

export function judge(run: JudgedRun, basis: string, budget: Budget): Verdict {
  const answered = run.responses + run.timeouts + run.errors;
  const checks: Check[] = [
    {
      name: 'answered',
      pass: answered > 0,
      detail: `${answered} request${answered === 1 ? '' : 's'} measured`,
    },
    {
      name: 'p99',
      pass: run.latency.p99 < budget.p99Ms,
      detail: `p99 ${formatMs(run.latency.p99)} ms ${run.latency.p99 < budget.p99Ms ? '<' : '>='} budget ${budget.p99Ms} ms`,
    },
    {
      name: 'timeouts',
      pass: run.timeouts === 0,
      detail: `${run.timeouts} over ${budget.timeoutMs} ms`,
    },
    {
      name: 'errors',
      pass: run.errors === 0 && run.non2xx === 0,
      detail: `${run.non2xx} non-2xx, ${run.errors} connection errors`,
    },
  ];
  return { pass: checks.every((check) => check.pass), basis, checks };
}

export function formatVerdict(verdict: Verdict): string {
  const word = verdict.pass ? 'PASS' : 'FAIL';
  const failed = verdict.checks.filter((check) => !check.pass);
  const shown = verdict.pass ? verdict.checks.slice(1) : failed;
  return `${word} (${verdict.basis}): ${shown.map((check) => check.detail).join('; ')}`;
}

/** Milliseconds with sensible precision: 0.412, 3.41, 12.3, 1234. NaN reads as "-". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}
