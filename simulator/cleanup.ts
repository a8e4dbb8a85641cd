/**
 * @module Removes a run's cohorts from the endpoint afterwards (`--cleanup`), through the read API's
 * `DELETE /cohorts/:cohort_id`, so simulated cohorts do not pile up in an operator's store.
 */
import { redactToken } from './redact.ts';

export interface CleanupSummary {
  /** Cohorts the endpoint removed. */
  removed: string[];
  /** Cohorts it did not hold (404 naming the cohort): nothing to remove. */
  absent: string[];
  /** Why removing stopped; the cohorts not listed above are still there. */
  error?: string;
}

export interface CleanupOptions {
  readUrl: string;
  headers: Record<string, string>;
  timeoutMs: number;
  fetch?: typeof globalThis.fetch;
}

/** One DELETE per cohort, in order; the first failure stops the rest (they would fail alike). */
export async function removeCohorts(
  cohortIds: readonly string[],
  options: CleanupOptions,
): Promise<CleanupSummary> {
  const fetch = options.fetch ?? globalThis.fetch;
  const summary: CleanupSummary = { removed: [], absent: [] };
  for (const cohortId of cohortIds) {
    const url = cohortUrl(options.readUrl, cohortId);
    let status: number;
    let text: string;
    try {
      const response = await fetch(url, {
        method: 'DELETE',
        headers: { accept: 'application/json', ...options.headers },
        signal: AbortSignal.timeout(Math.max(options.timeoutMs, 10_000)),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      summary.error = `DELETE ${redactToken(url)} failed: ${(error as Error).message}`;
      return summary;
    }
    if (status === 200) summary.removed.push(cohortId);
    // Our 404 names the cohort; a bare one is an endpoint without the route (an older receiver).
    else if (status === 404 && namesCohort(text, cohortId)) summary.absent.push(cohortId);
    else {
      summary.error = `DELETE ${redactToken(url)} answered ${status}: ${text.slice(0, 300)}`;
      return summary;
    }
  }
  return summary;
}

/** `<base path>/cohorts/<id>?<base query>`: where the read API removes one cohort. */
export function cohortUrl(readUrl: string, cohortId: string): string {
  const url = new URL(readUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/cohorts/${encodeURIComponent(cohortId)}`;
  return url.href;
}

function namesCohort(text: string, cohortId: string): boolean {
  try {
    return (JSON.parse(text) as { cohort_id?: unknown }).cohort_id === cohortId;
  } catch {
    return false;
  }
}
