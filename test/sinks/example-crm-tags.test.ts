import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/compose.ts';
import { changeKey } from '../../src/core/sinks/sink.ts';
import { buildSink } from '../../src/runtime/sink-settings.ts';
import { exampleCrmTagsSink, toCrmOperation } from '../../src/sinks/example-crm-tags.ts';
import { membershipChange } from './changes.ts';
import { startDownstream } from './downstream.ts';

// The contract suite runs in example-crm-tags.contract.test.ts, the file docs/sinks.md quotes.
describe('example-crm-tags sink', () => {
  it('maps every change to the tag operation the CRM should end with, free-plan users untagged', () => {
    const operation = (overrides: Parameters<typeof membershipChange>[0]) =>
      toCrmOperation(membershipChange(overrides), 'amplitude:');
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

  it('POSTs the CRM’s body shape, with the tag prefix of its own setting', async () => {
    const downstream = await startDownstream();
    const sink = buildSink(exampleCrmTagsSink, {
      SINK_EXAMPLE_CRM_TAGS_URL: downstream.url,
      SINK_EXAMPLE_CRM_TAGS_TAG_PREFIX: 'cohort.',
    });
    await sink.send([membershipChange({ userId: 'u7', kind: 'left' })]);
    expect(downstream.requests[0]?.body).toEqual({
      operations: [
        expect.objectContaining({ action: 'remove_tag', contact_id: 'u7', tag: 'cohort.Power users' }),
      ],
    });
    expect(sink.name).toBe('example-crm-tags');
    await sink.close?.();
    await downstream.close();
  });

  it('is a sink SINKS can name, its settings checked at start-up under its own prefix', () => {
    const [setup] = loadConfig({
      SINKS: 'example-crm-tags',
      SINK_EXAMPLE_CRM_TAGS_URL: 'https://crm.example.com/v1',
    }).SINKS;
    expect(setup).toMatchObject({
      name: 'example-crm-tags',
      settings: { TAG_PREFIX: 'amplitude:', BATCH_SIZE: 100 },
    });
    expect(() =>
      loadConfig({
        SINKS: 'example-crm-tags',
        SINK_EXAMPLE_CRM_TAGS_URL: 'https://crm.example.com/v1',
        SINK_EXAMPLE_CRM_TAGS_TAG_PREFIX: 'a b',
      }),
    ).toThrow(/^invalid configuration: SINK_EXAMPLE_CRM_TAGS_TAG_PREFIX: must be letters/);
  });
});

describe('docs/sinks.md', () => {
  it('quotes the example sinks byte for byte, so the page cannot drift from the code', async () => {
    const page = await readFile(new URL('../../docs/sinks.md', import.meta.url), 'utf8');
    // Each quoted file is marked `<!-- verbatim: path -->` right above its code block.
    const quoted = [...page.matchAll(/<!-- verbatim: (\S+) -->\n```ts\n([\s\S]*?)```\n/g)];
    expect(quoted.map((match) => match[1])).toEqual([
      'src/sinks/example-crm-tags.ts',
      'src/sinks/ndjson-file.ts',
      'test/sinks/ndjson-file.contract.test.ts',
      'test/sinks/example-crm-tags.contract.test.ts',
    ]);
    for (const [, path = '', code] of quoted) {
      expect(code, path).toBe(await readFile(new URL(`../../${path}`, import.meta.url), 'utf8'));
    }
  });
});
