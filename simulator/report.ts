/** @module The delivery summary (as the sender saw it) and the printed report with its verdict. */

import { cohortUrl } from './cleanup.ts';
import type { DifferenceKind } from './compare.ts';
import { differenceKinds } from './compare.ts';
import type { DeliveryLog } from './deliver.ts';
import { type Cause, causes, type DiagnosedDifference } from './diagnose.ts';
import type { PlannedMessage } from './plan.ts';
import { redactToken } from './redact.ts';
import type { SimulationResult } from './simulate.ts';

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface DeliverySummary {
  messages: number;
  /** Users carried by all planned messages together. */
  userUpdates: number;
  /** Sendings scheduled: each message once, plus the deliberate duplicates. */
  deliveries: number;
  duplicatesSent: number;
  /** HTTP requests made: deliveries plus retries. */
  attempts: number;
  retries: number;
  /** Deliveries given up without a 2xx (out of retries, or a 4xx). */
  givenUp: number;
  /** message_ids no sending of which was ever acknowledged. */
  unacknowledgedMessages: string[];
  /** Attempts by outcome: HTTP status, `timeout` or `network-error`. */
  outcomes: Record<string, number>;
  /** Acknowledged attempts by the answer body's `status` field, when it has one. */
  answers: Record<string, number>;
  /** Milliseconds from sending to the full answer, over attempts answered in time; null if none were. */
  latencyMs: LatencySummary | null;
  elapsedMs: number;
}

export function summarizeDelivery(messages: readonly PlannedMessage[], log: DeliveryLog): DeliverySummary {
  const outcomes: Record<string, number> = {};
  const answers: Record<string, number> = {};
  const latencies: number[] = [];
  const acknowledged = new Set<number>();
  for (const attempt of log.attempts) {
    const outcome = attempt.status === undefined ? (attempt.failure ?? 'unknown') : String(attempt.status);
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (attempt.status === undefined) continue;
    latencies.push(attempt.endedAt - attempt.startedAt);
    if (attempt.status < 200 || attempt.status >= 300) continue;
    acknowledged.add(attempt.messageIndex);
    if (attempt.answer !== undefined) answers[attempt.answer] = (answers[attempt.answer] ?? 0) + 1;
  }
  return {
    messages: messages.length,
    userUpdates: messages.reduce((sum, message) => sum + message.users.length, 0),
    deliveries: log.deliveries.length,
    duplicatesSent: log.deliveries.filter((delivery) => delivery.copy > 0).length,
    attempts: log.attempts.length,
    retries: log.attempts.length - log.deliveries.length,
    givenUp: log.deliveries.filter((delivery) => !delivery.acknowledged).length,
    unacknowledgedMessages: messages
      .filter((message) => !acknowledged.has(message.index))
      .map((message) => message.messageId),
    outcomes,
    answers,
    latencyMs: summarizeLatency(latencies),
    elapsedMs: log.elapsedMs,
  };
}

/** Nearest-rank percentiles. */
export function summarizeLatency(latencies: number[]): LatencySummary | null {
  if (latencies.length === 0) return null;
  const sorted = [...latencies].sort((a, b) => a - b);
  const rank = (percentile: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((percentile / 100) * sorted.length) - 1)] as number;
  return { p50: rank(50), p90: rank(90), p99: rank(99), max: sorted.at(-1) as number };
}

const kindLabels: Record<DifferenceKind, string> = {
  missing: 'missing',
  extra: 'extra',
  'wrong-since': 'wrong since',
  'wrong-properties': 'wrong properties',
  'listed-twice': 'listed twice',
};

const shownDifferences = 20;
const number = (value: number) => value.toLocaleString('en-US');
const milliseconds = (value: number) => value.toFixed(1);
const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, count]) => `${key} ×${number(count)}`)
    .join(', ') || 'none';

/** The human-readable report, ending with the verdict line. */
export function formatReport(result: SimulationResult): string {
  const { options, delivery, readBack } = result;
  const lines = [
    `Amplitude delivery simulation → ${redactToken(options.url)}`,
    `  seed ${options.seed}, run ${options.runId}, shape ${options.shape}: ${options.cohorts} cohorts × ${number(options.users)} users, ${options.steps} steps, batches of ${number(options.batchSize)}, ${options.shape === 'default' ? `${options.properties} properties` : 'no properties (the shape carries none)'}`,
    `  sending: concurrency ${options.concurrency}, duplicate rate ${options.duplicateRate}, reorder window ${options.reorderWindow}, timeout ${options.timeoutMs} ms, ${options.retries} retries from ${options.backoffMs} ms${options.stepGapMs > 0 ? `, steps in order ${options.stepGapMs} ms apart` : ''}`,
    '',
    'Delivery, as the sender saw it',
    `  messages ${number(delivery.messages)} (${number(delivery.userUpdates)} user updates); deliveries ${number(delivery.deliveries)} (${number(delivery.duplicatesSent)} deliberate duplicates)`,
    `  attempts ${number(delivery.attempts)}, retries ${number(delivery.retries)}, given up ${number(delivery.givenUp)}`,
    `  status codes: ${counts(delivery.outcomes)}`,
    `  answers: ${counts(delivery.answers)}`,
    delivery.latencyMs === null
      ? '  latency: no attempt was answered'
      : `  latency ms: p50 ${milliseconds(delivery.latencyMs.p50)}, p90 ${milliseconds(delivery.latencyMs.p90)}, p99 ${milliseconds(delivery.latencyMs.p99)}, max ${milliseconds(delivery.latencyMs.max)}`,
    `  elapsed ${(delivery.elapsedMs / 1000).toFixed(1)} s`,
    '',
    result.refused !== undefined
      ? `Stopped: ${result.refused.error}`
      : readBack.error === undefined
        ? `Read-back from ${redactToken(options.readUrl)}: ${readBack.reads} ${readBack.reads === 1 ? 'read' : 'reads'} over ${(readBack.waitedMs / 1000).toFixed(1)} s${readBack.converged ? '' : ' (the state stopped changing, or time ran out)'}`
        : `Read-back from ${redactToken(options.readUrl)} failed: ${readBack.error}`,
  ];
  const hint = result.refused?.hint ?? readBack.hint;
  if (hint !== undefined) lines.push(`  hint: ${hint}`);
  if (result.warnings.length > 0)
    lines.push('', 'Warnings', ...result.warnings.map((warning) => `  ${warning}`));
  lines.push(...differenceLines(result));
  lines.push(...cohortLines(result));
  lines.push('', verdictLine(result));
  return lines.join('\n');
}

function differenceLines(result: SimulationResult): string[] {
  const { differences, lostMessages, delivery } = result;
  const lines: string[] = [];
  // Every message is unacknowledged then, for the one reason already printed.
  if (result.refused !== undefined) return lines;
  if (delivery.unacknowledgedMessages.length > 0) {
    lines.push(
      '',
      `Never acknowledged: ${delivery.unacknowledgedMessages.length} messages`,
      ...delivery.unacknowledgedMessages.slice(0, shownDifferences).map((id) => `  ${id}`),
    );
  }
  if (result.readBack.error !== undefined) return lines;
  const byKind = differenceKinds
    .map((kind) => [kind, differences.filter((difference) => difference.kind === kind).length] as const)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${kindLabels[kind]} ${number(count)}`);
  lines.push(
    '',
    `Differences: ${number(differences.length)}${byKind.length > 0 ? ` (${byKind.join(', ')})` : ''}`,
  );
  if (differences.length === 0) return lines;
  lines.push('Likely causes: the endpoint…');
  for (const [cause, count] of causeCounts(differences)) {
    lines.push(`  ${String(count).padStart(6)} × ${causes[cause]} [${cause}]`);
  }
  if (lostMessages.length > 0) {
    lines.push(`Acknowledged messages with no visible effect: ${lostMessages.length}`);
    for (const message of lostMessages.slice(0, shownDifferences)) {
      lines.push(`  ${message.messageId} (${message.inCohort ? 'add' : 'remove'}, ${message.users} users)`);
    }
  }
  lines.push(`First ${Math.min(shownDifferences, differences.length)} differences:`);
  for (const difference of differences.slice(0, shownDifferences))
    lines.push(`  ${describeDifference(difference)}`);
  return lines;
}

/** What became of the run's cohorts: removed by --cleanup, or how to remove them. */
function cohortLines(result: SimulationResult): string[] {
  const { cleanup, cohortIds, options } = result;
  if (cleanup !== undefined) {
    const lines = [
      '',
      `Cleanup: removed ${cleanup.removed.length} of this run's ${cohortIds.length} cohorts`,
    ];
    if (cleanup.absent.length > 0) lines.push(`  not held by the endpoint: ${cleanup.absent.join(', ')}`);
    if (cleanup.error !== undefined) lines.push(`  stopped: ${cleanup.error}`);
    return lines;
  }
  // Nothing was written, or nothing at all is known to have been.
  if (result.refused !== undefined) return [];
  const credentials = Object.keys(options.headers).length > 0 ? ' with the same --header' : '';
  return [
    '',
    `This run's cohorts stay in the endpoint's store: ${cohortIds.join(', ')}`,
    `  remove them with --cleanup (after a PASS), or one by one${credentials}:`,
    `  curl -X DELETE '${redactToken(cohortUrl(options.readUrl, cohortIds[0] as string))}'`,
  ];
}

/** Causes by how many differences they explain, most first. */
export function causeCounts(differences: readonly DiagnosedDifference[]): [Cause, number][] {
  const tally = new Map<Cause, number>();
  for (const difference of differences) tally.set(difference.cause, (tally.get(difference.cause) ?? 0) + 1);
  return [...tally].sort((a, b) => b[1] - a[1]);
}

function describeDifference(difference: DiagnosedDifference): string {
  const where = `${difference.cohortId} ${JSON.stringify(difference.userId)}`;
  const expected = difference.expected;
  const actual = difference.actual;
  const detail =
    difference.kind === 'missing'
      ? `expected since ${expected?.since}`
      : difference.kind === 'extra'
        ? `listed since ${String(actual?.since)}, should be absent`
        : difference.kind === 'wrong-since'
          ? `since ${String(actual?.since)}, expected ${expected?.since}`
          : difference.kind === 'wrong-properties'
            ? `properties ${truncate(JSON.stringify(actual?.properties))}, expected ${truncate(JSON.stringify(expected?.properties))}`
            : 'listed more than once';
  return `${kindLabels[difference.kind]}: ${where}: ${detail}. ${difference.explanation} [${difference.cause}]`;
}

const truncate = (text: string | undefined) =>
  text === undefined ? 'none' : text.length > 120 ? `${text.slice(0, 120)}…` : text;

function verdictLine(result: SimulationResult): string {
  if (result.verdict === 'pass') return 'PASS: the endpoint converged to exactly the expected membership.';
  if (result.refused !== undefined)
    return 'ERROR: the endpoint refused the credentials, so nothing was verified.';
  if (result.readBack.error !== undefined)
    return 'ERROR: could not read the membership back, so nothing was verified.';
  const problems = [
    result.differences.length > 0 ? `${number(result.differences.length)} differences` : '',
    result.delivery.unacknowledgedMessages.length > 0
      ? `${result.delivery.unacknowledgedMessages.length} messages never acknowledged`
      : '',
  ].filter(Boolean);
  return `FAIL: ${problems.join(' and ')}.`;
}

/** The result for `--json`: header values and a `?token=` are secrets, so they are masked. */
export function redactedResult(result: SimulationResult): SimulationResult {
  const headers = Object.fromEntries(Object.keys(result.options.headers).map((name) => [name, '***']));
  return {
    ...result,
    options: {
      ...result.options,
      url: redactToken(result.options.url),
      readUrl: redactToken(result.options.readUrl),
      headers,
    },
  };
}
