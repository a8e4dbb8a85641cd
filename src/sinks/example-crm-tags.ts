/**
 * @module A worked example to copy: a sink that keeps a tag per cohort on contacts in a CRM, through
 * that CRM's own API shape, and leaves free-plan users untagged. It reuses the `http` sink (batches,
 * rate limit, Retry-After) and only says what to send. Try it with `SINKS=example-crm-tags` and
 * `SINK_HTTP_URL`; make it yours by changing `toCrmOperations`.
 */
import type { MembershipChange } from '../store/store.ts';
import { createHttpSink, type HttpSinkOptions } from './http.ts';
import { changeKey, type Sink } from './sink.ts';

/** One operation of the (imaginary) CRM's `POST /v1/contacts/tags` batch endpoint. */
export interface CrmTagOperation {
  action: 'add_tag' | 'remove_tag';
  contact_id: string;
  tag: string;
  /** The CRM drops an operation whose key it has seen: changes can come more than once. */
  idempotency_key: string;
}

export function createCrmTagsSink(options: Omit<HttpSinkOptions, 'toBody'>): Sink {
  return createHttpSink({
    name: 'example-crm-tags',
    ...options,
    toBody: (changes) => ({ operations: changes.map(toCrmOperation) }),
  });
}

/**
 * Turns a change into the state the CRM should hold — never "skip it": a filter that drops
 * changes would leave a contact tagged after a later change said otherwise (say, moved to the free
 * plan). So every change maps to an operation, and the property decides which one.
 */
export function toCrmOperation(change: MembershipChange): CrmTagOperation {
  const tagged = change.kind !== 'left' && change.properties?.plan !== 'free';
  return {
    action: tagged ? 'add_tag' : 'remove_tag',
    contact_id: change.userId,
    tag: `amplitude:${change.cohortName}`,
    idempotency_key: changeKey(change),
  };
}
