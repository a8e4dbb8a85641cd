/**
 * @module runSimulation(options): plan → schedule → deliver → read back until settled → compare →
 * diagnose. No console and no process here: the CLI prints, the tests assert.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CleanupSummary, removeCohorts } from './cleanup.ts';
import { compareMembership, type Difference } from './compare.ts';
import { deliverAll } from './deliver.ts';
import { type DiagnosedDifference, diagnose, type LostMessage } from './diagnose.ts';
import { expectedMembership, registerHistory } from './expected.ts';
import type { SimulatorOptions } from './options.ts';
import { createPlan, type Plan } from './plan.ts';
import { type ListedCohort, ReadBackError, readCohortMembers } from './read-back.ts';
import { redactToken } from './redact.ts';
import { refusalMessage } from './refusal.ts';
import { type DeliverySummary, summarizeDelivery } from './report.ts';
import { scheduleDeliveries } from './schedule.ts';
import { findRepeatedBodies, renderBody } from './shapes.ts';

export interface ReadBackSummary {
  /** Full read-backs of every cohort. */
  reads: number;
  waitedMs: number;
  /** The last read matched the expected state. */
  converged: boolean;
  /** Why reading failed; then nothing was verified. */
  error?: string;
  /** What to change so reading can work (e.g. a --read-url to a process without a read API). */
  hint?: string;
}

/** Why the run stopped before sending its whole plan, and what to change. */
export interface Refusal {
  error: string;
  hint: string;
}

export interface SimulationResult {
  options: SimulatorOptions;
  /** `error`: the writes were refused, or the membership could not be read back. */
  verdict: 'pass' | 'fail' | 'error';
  /** Set when the first writes were all refused for their credentials: nothing was read back. */
  refused?: Refusal;
  delivery: DeliverySummary;
  readBack: ReadBackSummary;
  differences: DiagnosedDifference[];
  lostMessages: LostMessage[];
  warnings: string[];
  /** This run's cohort ids: what stays in the endpoint's store unless removed. */
  cohortIds: string[];
  /** What `--cleanup` removed; absent when it was not asked for or the run did not pass. */
  cleanup?: CleanupSummary;
}

export interface SimulationDeps {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  /** Told what is happening, a line at a time (the CLI prints it to stderr). */
  onProgress?: (line: string) => void;
}

/** How often the membership is read back while waiting for the endpoint to finish applying. */
const pollIntervalMs = 250;

export async function runSimulation(
  options: SimulatorOptions,
  deps: SimulationDeps = {},
): Promise<SimulationResult> {
  const now = deps.now ?? (() => performance.now());
  const progress = deps.onProgress ?? (() => {});
  const plan = createPlan(options);
  const bodies = plan.messages.map((message) => renderBody(message, options.shape));
  const segments = scheduleDeliveries(plan.messages, {
    ...options,
    segmentBySteps: options.shape === 'per-user-flags' || options.stepGapMs > 0,
  });
  const warnings = planWarnings(options, plan, bodies);
  const cohortIds = plan.cohorts.map((cohort) => cohort.cohortId);

  progress(`sending ${plan.messages.length} messages to ${redactToken(options.url)} …`);
  const log = await deliverAll(segments, bodies, options, deps);
  const delivery = summarizeDelivery(plan.messages, log);
  if (log.refused) {
    const sent = new Set(log.attempts.map((attempt) => attempt.messageIndex)).size;
    const refused = refusalMessage(log.attempts, options, plan.messages.length - sent);
    const readBack = { reads: 0, waitedMs: 0, converged: false };
    return {
      options,
      verdict: 'error',
      refused,
      delivery,
      readBack,
      differences: [],
      lostMessages: [],
      warnings,
      cohortIds,
    };
  }

  progress('reading the membership back …');
  const history = registerHistory(plan.messages);
  const expected = expectedMembership(history);
  const checks = { since: options.shape !== 'per-user-flags', properties: true };
  const compare = (listed: ReadonlyMap<string, ListedCohort>) =>
    compareMembership(cohortIds, expected, listed, checks);
  const readBack = await readUntilSettled(cohortIds, compare, options, { ...deps, now });
  const { differences, lostMessages } = diagnose(readBack.differences, history, log.attempts, {
    sinceIsComputedTime: checks.since,
    orderUnknowable: options.shape === 'per-user-flags' && options.stepGapMs < 1000,
  });
  const failed = differences.length > 0 || delivery.unacknowledgedMessages.length > 0;
  const verdict = readBack.summary.error !== undefined ? 'error' : failed ? 'fail' : 'pass';
  const result: SimulationResult = {
    options,
    verdict,
    delivery,
    readBack: readBack.summary,
    differences,
    lostMessages,
    warnings,
    cohortIds,
  };
  // Only after a pass: a failed run's cohorts are the evidence, kept for the inspector and the API.
  if (options.cleanup && verdict === 'pass') {
    progress(`removing this run's ${cohortIds.length} cohorts …`);
    result.cleanup = await removeCohorts(cohortIds, { ...options, ...deps });
  }
  return result;
}

/** 0 with no difference, 1 with differences or unacknowledged messages, 2 when nothing could be verified. */
export function exitCodeFor(result: SimulationResult): number {
  return result.verdict === 'pass' ? 0 : result.verdict === 'fail' ? 1 : 2;
}

function planWarnings(options: SimulatorOptions, plan: Plan, bodies: readonly string[]): string[] {
  if (options.shape !== 'per-user-flags') return [];
  const warnings = [
    "per-user-flags carries no message_id and no computed_time: steps go out in order, each after the previous one is acknowledged; duplicates and reordering stay within a step; `since` is not checked (it is the endpoint's receive time).",
  ];
  if (options.stepGapMs < 1000) {
    warnings.push(
      `--step-gap-ms ${options.stepGapMs} is under a second: two steps can share a second of receive time, and an endpoint timing this shape in whole seconds cannot order them.`,
    );
  }
  const repeats = findRepeatedBodies(bodies);
  if (repeats.length > 0) {
    const examples = repeats
      .slice(0, 3)
      .map(([later, earlier]) => `${plan.messages[later]?.messageId} = ${plan.messages[earlier]?.messageId}`);
    warnings.push(
      `${repeats.length} messages are byte-identical to an earlier, different message (users leaving and re-entering with the same batch), e.g. ${examples.join(', ')}. An endpoint that dedupes this shape on its body drops them.`,
    );
  }
  return warnings;
}

/**
 * Reads every cohort until the endpoint matches the expectation, or its state has not changed for
 * `settleMs` (it is done applying, and wrong), or `maxWaitMs` has passed. The webhook answers
 * before applying, so the first read can legitimately be behind.
 */
async function readUntilSettled(
  cohortIds: readonly string[],
  compare: (listed: ReadonlyMap<string, ListedCohort>) => Difference[],
  options: SimulatorOptions,
  deps: SimulationDeps & { now: () => number },
): Promise<{ summary: ReadBackSummary; differences: Difference[] }> {
  const started = deps.now();
  const readOptions = {
    readUrl: options.readUrl,
    headers: options.headers,
    timeoutMs: options.timeoutMs,
    ...deps,
  };
  let lastFingerprint: string | undefined;
  let stableSince = started;
  for (let reads = 1; ; reads++) {
    const listed = new Map<string, ListedCohort>();
    try {
      for (const cohortId of cohortIds) listed.set(cohortId, await readCohortMembers(cohortId, readOptions));
    } catch (error) {
      const summary: ReadBackSummary = {
        reads,
        waitedMs: deps.now() - started,
        converged: false,
        error: (error as Error).message,
      };
      if (error instanceof ReadBackError && error.hint !== undefined) summary.hint = error.hint;
      return { summary, differences: [] };
    }
    const differences = compare(listed);
    const at = deps.now();
    const summary = { reads, waitedMs: at - started, converged: differences.length === 0 };
    if (differences.length === 0) return { summary, differences };
    const fingerprint = fingerprintOf(listed);
    if (fingerprint !== lastFingerprint) {
      lastFingerprint = fingerprint;
      stableSince = at;
    } else if (at - stableSince >= options.settleMs) {
      return { summary, differences };
    }
    if (at - started >= options.maxWaitMs) return { summary, differences };
    await sleep(pollIntervalMs);
  }
}

function fingerprintOf(listed: ReadonlyMap<string, ListedCohort>): string {
  const hash = createHash('sha256');
  for (const [cohortId, cohort] of listed) {
    for (const member of cohort.members.values()) {
      hash.update(
        `${cohortId}\u0000${member.userId}\u0000${JSON.stringify([member.since, member.properties])}\n`,
      );
    }
    hash.update(`${cohort.listedTwice.join('\u0000')}\n`);
  }
  return hash.digest('hex');
}
