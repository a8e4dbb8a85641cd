import { buildSink } from '../../src/runtime/sink-settings.ts';
import { type CrmTagOperation, exampleCrmTagsSink } from '../../src/sinks/example-crm-tags.ts';
import { describeSinkContract } from './contract.ts';
import { startDownstream } from './downstream.ts';

describeSinkContract('example-crm-tags', async () => {
  // A real HTTP server on 127.0.0.1 that records the requests it is sent.
  const downstream = await startDownstream();
  return {
    // Built from its variables, as start-up builds it.
    sink: buildSink(exampleCrmTagsSink, {
      SINK_EXAMPLE_CRM_TAGS_URL: downstream.url,
      SINK_EXAMPLE_CRM_TAGS_CONCURRENCY: '2',
      SINK_EXAMPLE_CRM_TAGS_BATCH_SIZE: '25',
    }),
    // What reached the CRM, read back as (idempotency key, user, state to set).
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
