import { describe, expect, it } from 'vitest';
import { type CrmTagOperation, createCrmTagsSink, toCrmOperation } from '../../src/sinks/example-crm-tags.ts';
import { changeKey } from '../../src/sinks/sink.ts';
import { membershipChange } from './changes.ts';
import { describeSinkContract } from './contract.ts';
import { startDownstream } from './downstream.ts';

describeSinkContract('example-crm-tags', async () => {
  const downstream = await startDownstream();
  return {
    sink: createCrmTagsSink({ url: downstream.url, concurrency: 2, batchSize: 25 }),
    observed: () =>
      downstream
        .accepted()
        .flatMap((request) => (request.body as { operations: CrmTagOperation[] }).operations)
        .map((operation) => ({
          key: operation.idempotency_key,
          userId: operation.contact_id,
          inCohort: operation.action === 'add_tag',
        })),
    cleanup: () => downstream.close(),
  };
});

describe('example-crm-tags sink', () => {
  it('maps every change to the tag operation the CRM should end with, free-plan users untagged', () => {
    const operation = (overrides: Parameters<typeof membershipChange>[0]) =>
      toCrmOperation(membershipChange(overrides));
    expect(operation({ kind: 'entered' })).toEqual({
      action: 'add_tag',
      contact_id: 'u1',
      tag: 'amplitude:Power users',
      idempotency_key: changeKey(membershipChange()),
    });
    expect(operation({ kind: 'entered', properties: undefined }).action).toBe('add_tag');
    expect(operation({ kind: 'entered', properties: { plan: 'free' } }).action).toBe('remove_tag');
    // Moving to the free plan is an update, not a leave: dropping updates would leave the tag on.
    expect(operation({ kind: 'updated', properties: { plan: 'free' } }).action).toBe('remove_tag');
    expect(operation({ kind: 'updated', properties: { plan: 'team' } }).action).toBe('add_tag');
    expect(operation({ kind: 'left' }).action).toBe('remove_tag');
  });

  it('POSTs the CRM’s body shape', async () => {
    const downstream = await startDownstream();
    const sink = createCrmTagsSink({ url: downstream.url });
    await sink.deliver([membershipChange({ userId: 'u7', kind: 'left' })]);
    expect(downstream.requests[0]?.body).toEqual({
      operations: [expect.objectContaining({ action: 'remove_tag', contact_id: 'u7' })],
    });
    expect(sink.name).toBe('example-crm-tags');
    await sink.close?.();
    await downstream.close();
  });
});
