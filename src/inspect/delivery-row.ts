/**
 * @module One delivery as a table row: the server renders it and the live tail's script builds the
 * same cells from its JSON, so a row added live reads exactly as one rendered on the page.
 */
import type { Delivery } from './deliveries/delivery-log.ts';
import { formatCount, formatDirection, formatTime } from './format.ts';

export interface Cell {
  text: string;
  href?: string;
  className?: string;
}

export interface DeliveryRow {
  id: string;
  cells: Cell[];
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

export const deliveryHref = (base: string, messageId: string) =>
  `${base}/delivery?message_id=${encodeURIComponent(messageId)}`;

export const letterHref = (base: string, id: string) => `${base}/letters/${encodeURIComponent(id)}`;

export function deliveryRow(delivery: Delivery, base: string): DeliveryRow {
  const outcome = `${delivery.outcome} ${delivery.status}${delivery.reason ? ` ${delivery.reason}` : ''}`;
  const cohort =
    delivery.cohortId === undefined ? '—' : `${delivery.cohortName ?? ''} (${delivery.cohortId})`;
  const applied = delivery.applied
    ? `+${delivery.applied.entered} −${delivery.applied.left} =${delivery.applied.unchanged}`
    : delivery.outcome === 'accepted'
      ? 'waiting'
      : '';
  const message: Cell =
    delivery.messageId !== null
      ? { text: delivery.messageId, href: deliveryHref(base, delivery.messageId) }
      : delivery.quarantineId !== undefined
        ? { text: '(none: see quarantine)', href: letterHref(base, delivery.quarantineId) }
        : { text: '(none)' };
  return {
    id: delivery.id,
    cells: [
      { text: formatTime(delivery.receivedAt) },
      { text: outcome, className: `outcome-${delivery.outcome}` },
      { text: cohort },
      { text: formatDirection(delivery.inCohort) },
      { text: delivery.users === undefined ? '—' : formatCount(delivery.users), className: 'num' },
      { text: `${Math.round(delivery.ackMs * 10) / 10} ms`, className: 'num' },
      message,
      { text: delivery.duplicates > 0 ? `${applied} (${delivery.duplicates} dup)` : applied },
      { text: delivery.receiver },
    ],
  };
}
