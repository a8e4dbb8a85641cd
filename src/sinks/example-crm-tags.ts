/**
 * @module A worked example to copy (docs/sinks.md): a sink that keeps a tag per cohort on contacts
 * in a CRM, through that CRM's own API shape, and leaves free-plan users untagged. It builds on
 * the `http` sink (batches, rate limit, timeouts, Retry-After) and only says what to send.
 * Try it: `SINKS=example-crm-tags SINK_EXAMPLE_CRM_TAGS_URL=https://crm.example.com/v1/contacts/tags`.
 */
import { z } from 'zod';
import { changeKey } from '../core/sinks/sink.ts';
import type { MembershipChange } from '../core/store/store.ts';
import { defineSink } from '../runtime/sink-definition.ts';
import { createHttpSink, httpOptions, httpSettings } from './http.ts';

/** One operation of the (imaginary) CRM's `POST /v1/contacts/tags` batch endpoint. */
export interface CrmTagOperation {
  action: 'add_tag' | 'remove_tag';
  contact_id: string;
  tag: string;
  /** The CRM drops an operation whose key it has seen: changes can come more than once. */
  idempotency_key: string;
}

export const exampleCrmTagsSink = defineSink({
  // SINKS=example-crm-tags; its variables start with SINK_EXAMPLE_CRM_TAGS_.
  kind: 'example-crm-tags',
  // The http sink's settings (URL, HEADERS, RATE_PER_SECOND, CONCURRENCY, BATCH_SIZE, TIMEOUT_MS)
  // and one of its own: SINK_EXAMPLE_CRM_TAGS_TAG_PREFIX.
  settings: httpSettings.extend({
    TAG_PREFIX: z
      .string()
      .regex(/^[\w:.-]+$/, 'must be letters, digits, "_", ":", "." or "-"')
      .default('amplitude:'),
  }),
  create: (settings, { name }) =>
    createHttpSink({
      ...httpOptions(settings),
      name,
      toBody: (changes) => ({
        operations: changes.map((change) => toCrmOperation(change, settings.TAG_PREFIX)),
      }),
    }),
});

/**
 * Turns a change into the state the CRM should hold — never "skip it": a filter that drops
 * changes would leave a contact tagged after a later change said otherwise (say, moved to the free
 * plan). So every change maps to an operation, and the property decides which one.
 */
export function toCrmOperation(change: MembershipChange, tagPrefix: string): CrmTagOperation {
  const tagged = change.kind !== 'left' && change.properties?.plan !== 'free';
  return {
    action: tagged ? 'add_tag' : 'remove_tag',
    contact_id: change.userId,
    tag: `${tagPrefix}${change.cohortName}`,
    idempotency_key: changeKey(change),
  };
}
