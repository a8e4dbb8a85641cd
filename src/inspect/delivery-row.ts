/**
 * @module One delivery as a table row: the server renders it and the live tail's script builds the
 * same cells from its JSON, so a row added live reads exactly as one rendered on the page.
 */
import type { DeadLetters, Letter } from '../core/dead-letters/dead-letters.ts';
import type { ApplyResult, Delivery } from './deliveries/delivery-log.ts';
import { formatCount, formatDirection, formatTime } from './format.ts';

export interface Cell {
  text: string;
  href?: string;
  className?: string;
  /** The whole text, for a cell cut short with an ellipsis. */
  title?: string;
}

export interface DeliveryRow {
  id: string;
  cells: Cell[];
  /** `sinks-failed` / `sinks-partial` on an applied batch whose sinks failed (the cell says it too). */
  className?: string;
}

export const deliveryColumns = [
  'received',
  'outcome',
  'cohort',
  'direction',
  'users',
  'ack',
  'message_id',
  'applied',
  'receiver',
];

/** What the `applied` column's signs mean, shown under the table. */
export const appliedLegend = '+ entered, − left, ~ updated (stayed in, properties changed), = unchanged';

export const deliveryHref = (base: string, messageId: string) =>
  `${base}/delivery?message_id=${encodeURIComponent(messageId)}`;

export const letterHref = (base: string, id: string) => `${base}/letters/${encodeURIComponent(id)}`;

/** `+1 −0 ~1 =1`; `~` is left out for a writer that did not count updated users. */
export function appliedText(applied: ApplyResult): string {
  const updated = applied.updated === undefined ? '' : ` ~${applied.updated}`;
  return `+${applied.entered} −${applied.left}${updated} =${applied.unchanged}`;
}

/** `all` when no sink delivered and at least one failed, `some` when some failed, else undefined. */
export function sinkFailure(applied: ApplyResult | undefined): 'all' | 'some' | undefined {
  const sinks = applied?.sinks ?? [];
  const failing = sinks.filter((sink) => sink.failed > 0 || sink.error !== undefined);
  if (failing.length === 0) return undefined;
  const allFailed = failing.length === sinks.length && sinks.every((sink) => sink.delivered === 0);
  return allFailed ? 'all' : 'some';
}

/**
 * What a rejected body said of itself, read when a page shows its row. Only for display: the body
 * was refused, so nothing else may rely on it.
 */
export interface BodyHints {
  messageId?: string;
  cohortId?: string;
  cohortName?: string;
}

/** A delivery as the pages show it: a rejected one with what its kept body carried. */
export type ShownDelivery = Delivery & { hints?: BodyHints };

const maxHintLength = 200;

/** A short string or number field, else undefined: a hostile body can put anything there. */
function hintField(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string' || value === '') return undefined;
  return value.length > maxHintLength ? `${value.slice(0, maxHintLength)}…` : value;
}

/** The message_id and cohort a quarantined body carried, when it parses as a JSON object. */
export function bodyHints(letter: Letter): BodyHints {
  const hints: BodyHints = {};
  if (letter.messageId !== null) hints.messageId = letter.messageId;
  if (letter.encoding === 'base64') return hints;
  let parsed: unknown;
  try {
    parsed = JSON.parse(letter.body);
  } catch {
    return hints;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return hints;
  const record = parsed as Record<string, unknown>;
  const messageId = hints.messageId ?? hintField(record.message_id);
  const cohortId = hintField(record.cohort_id);
  const cohortName = hintField(record.cohort_name);
  if (messageId !== undefined) hints.messageId = messageId;
  if (cohortId !== undefined) hints.cohortId = cohortId;
  if (cohortName !== undefined) hints.cohortName = cohortName;
  return hints;
}

/**
 * Adds the body hints to the rejected rows that lack a message_id or cohort, one letter read per
 * such row: done when a page is made, so the ack path records nothing more.
 */
export async function withBodyHints(
  deliveries: Delivery[],
  deadLetters: DeadLetters,
): Promise<ShownDelivery[]> {
  return Promise.all(
    deliveries.map(async (delivery): Promise<ShownDelivery> => {
      if (delivery.quarantineId === undefined) return delivery;
      if (delivery.messageId !== null && delivery.cohortId !== undefined) return delivery;
      try {
        const letter = await deadLetters.get(delivery.quarantineId);
        return letter === undefined ? delivery : { ...delivery, hints: bodyHints(letter) };
      } catch {
        // Best effort: a page without the hints beats no page.
        return delivery;
      }
    }),
  );
}

function cohortText(delivery: ShownDelivery): string {
  const cohortId = delivery.cohortId ?? delivery.hints?.cohortId;
  if (cohortId === undefined) return '—';
  const name = delivery.cohortId !== undefined ? delivery.cohortName : delivery.hints?.cohortName;
  return `${name ?? ''} (${cohortId})`;
}

function messageCell(delivery: ShownDelivery, base: string): Cell {
  // A rejected row links to its letter: the body is all there is to see of it.
  if (delivery.quarantineId !== undefined) {
    const messageId = delivery.messageId ?? delivery.hints?.messageId;
    return {
      text: messageId ?? '(none: see its letter)',
      href: letterHref(base, delivery.quarantineId),
    };
  }
  if (delivery.messageId !== null)
    return { text: delivery.messageId, href: deliveryHref(base, delivery.messageId) };
  return { text: '(none)' };
}

function appliedCell(delivery: Delivery): Cell {
  const dup = delivery.duplicates > 0 ? ` (${delivery.duplicates} dup)` : '';
  if (!delivery.applied) {
    const text = delivery.outcome === 'accepted' ? 'waiting' : '';
    return { text: text === '' ? text : `${text}${dup}` };
  }
  const failure = sinkFailure(delivery.applied);
  const cell: Cell = { text: `${appliedText(delivery.applied)}${dup}`, className: 'nowrap' };
  // Said in words, not by colour alone; in the text, so a row the live script builds says it too.
  if (failure === 'all') return { text: `${cell.text} · sinks failed`, className: 'nowrap sinks-failed' };
  if (failure === 'some')
    return { text: `${cell.text} · sinks partly failed`, className: 'nowrap sinks-partial' };
  return cell;
}

export function deliveryRow(delivery: ShownDelivery, base: string): DeliveryRow {
  const outcome = `${delivery.outcome} ${delivery.status}${delivery.reason ? ` ${delivery.reason}` : ''}`;
  const failure = sinkFailure(delivery.applied);
  return {
    id: delivery.id,
    ...(failure === undefined ? {} : { className: failure === 'all' ? 'sinks-failed' : 'sinks-partial' }),
    cells: [
      { text: formatTime(delivery.receivedAt), className: 'nowrap' },
      { text: outcome, className: `outcome-${delivery.outcome}` },
      { text: cohortText(delivery) },
      { text: formatDirection(delivery.inCohort), className: 'nowrap' },
      { text: delivery.users === undefined ? '—' : formatCount(delivery.users), className: 'num' },
      { text: `${Math.round(delivery.ackMs * 10) / 10} ms`, className: 'num nowrap' },
      messageCell(delivery, base),
      appliedCell(delivery),
      { text: delivery.receiver, className: 'clip', title: delivery.receiver },
    ],
  };
}
