import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPayloadGenerator, type GeneratorOptions } from '../../bench/payload-generator.ts';
import { payloadShapes } from '../../simulator/payload-shapes.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';

const parse = createBatchParser();

function generatorWith(overrides: Partial<GeneratorOptions> = {}) {
  return createPayloadGenerator({
    users: 20,
    properties: 3,
    shape: 'default',
    removeRatio: 0.2,
    cohorts: 3,
    duplicateRate: 0,
    seed: 7,
    templateBudgetBytes: 1024 * 1024,
    baseComputedTime: 1_700_000_000,
    ...overrides,
  });
}

function parseBody(body: Buffer) {
  const text = body.toString('utf8');
  return parse(JSON.parse(text), text, 1_700_000_000_000);
}

describe('payload generator', () => {
  it('sends random-order user ids (UUIDs) by default, and user-1, user-2, … only when asked', () => {
    const ids = parseBody(generatorWith({ users: 50 }).next().body).users.map((user) => user.userId);
    expect(
      ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)),
    ).toBe(true);
    // Random order: consecutive users are not consecutive keys.
    const ascending = ids.filter((id, index) => index > 0 && id > (ids[index - 1] as string)).length;
    expect(ascending).toBeGreaterThan(10);
    expect(ascending).toBeLessThan(40);
    for (const style of ['email', 'hash'] as const) {
      const styled = parseBody(generatorWith({ users: 50, ids: style }).next().body).users;
      expect(new Set(styled.map((user) => user.userId)).size).toBe(50);
    }
    const sequential = parseBody(generatorWith({ users: 3, ids: 'sequential' }).next().body);
    expect(sequential.users.map((user) => user.userId)).toEqual(['user-0', 'user-1', 'user-2']);
  });

  it.each(payloadShapes)(
    'makes %s-shape bodies that the receiver own parser accepts, with every user',
    (shape) => {
      const generator = generatorWith({ shape, users: 50 });
      for (let i = 0; i < 200; i++) {
        const generated = generator.next();
        const batch = parseBody(generated.body);
        expect(batch.users).toHaveLength(50);
        expect(batch.inCohort).toBe(generated.inCohort);
        expect(batch.cohortId).toMatch(/^bench-[0-2]$/);
        expect(new Set(batch.users.map((user) => user.userId)).size).toBe(50);
      }
    },
  );

  it('carries the asked number of user properties, from 0 to 50, and none in the user-ids-only shape', () => {
    for (const properties of [0, 1, 3, 50]) {
      const batch = parseBody(generatorWith({ properties }).next().body);
      const counts = batch.users.map((user) => Object.keys(user.properties ?? {}).length);
      expect(new Set(counts)).toEqual(new Set([properties]));
    }
    const idsOnly = parseBody(generatorWith({ shape: 'user-ids-only', properties: 5 }).next().body);
    expect(idsOnly.users.every((user) => user.properties === undefined)).toBe(true);
  });

  it('gives every fresh body its own message_id, across many rotations through the templates', () => {
    const generator = generatorWith({ users: 2, maxTemplates: 64 });
    const ids = new Set<string>();
    for (let i = 0; i < 20_000; i++) ids.add(parseBody(generator.next().body).messageId);
    expect(generator.templates).toBe(64);
    expect(ids.size).toBe(20_000);
  });

  it('makes every fresh per-user flag list unique too (the receiver dedupes those on a body hash)', () => {
    const generator = generatorWith({ shape: 'per-user-flags', users: 3, maxTemplates: 16 });
    const hashes = new Set<string>();
    for (let i = 0; i < 5000; i++)
      hashes.add(createHash('sha256').update(generator.next().body).digest('hex'));
    expect(hashes.size).toBe(5000);
  });

  it('moves computed_time forward on each rotation, so a later body for the same users wins', () => {
    const generator = generatorWith({ users: 1, maxTemplates: 10 });
    const times = Array.from({ length: 30 }, () => parseBody(generator.next().body).computedTime);
    expect(times.slice(0, 10)).toEqual(Array(10).fill(1_700_000_000));
    expect(times.slice(10, 20)).toEqual(Array(10).fill(1_700_000_001));
    expect(times[29]).toBe(1_700_000_002);
  });

  it('resends earlier bodies byte for byte at the asked duplicate rate', () => {
    const generator = generatorWith({ users: 2, duplicateRate: 0.1 });
    const seen = new Map<string, string>();
    let duplicates = 0;
    const total = 20_000;
    for (let i = 0; i < total; i++) {
      const generated = generator.next();
      const batch = parseBody(generated.body);
      const bytes = generated.body.toString('base64');
      if (seen.has(batch.messageId)) {
        duplicates += 1;
        expect(generated.duplicate).toBe(true);
        expect(bytes).toBe(seen.get(batch.messageId));
      } else {
        expect(generated.duplicate).toBe(false);
        seen.set(batch.messageId, bytes);
      }
    }
    expect(duplicates / total).toBeGreaterThan(0.09);
    expect(duplicates / total).toBeLessThan(0.11);
  });

  it('mixes adds and removes at the asked ratio', () => {
    const generator = generatorWith({ users: 1, removeRatio: 0.3 });
    let removes = 0;
    for (let i = 0; i < 10_000; i++) if (!parseBody(generator.next().body).inCohort) removes += 1;
    expect(removes / 10_000).toBeGreaterThan(0.28);
    expect(removes / 10_000).toBeLessThan(0.32);
  });

  it('sends the same traffic for the same seed, so target and baseline see alike bodies', () => {
    const first = generatorWith({ runId: 'fixedrun', seed: 3 });
    const second = generatorWith({ runId: 'fixedrun', seed: 3 });
    for (let i = 0; i < 100; i++) expect(first.next().body.equals(second.next().body)).toBe(true);
  });

  it('keeps its templates within the memory budget and reports its own cost', () => {
    const generator = generatorWith({ users: 1000, templateBudgetBytes: 4 * 1024 * 1024 });
    expect(generator.templates * 2 * generator.meanBodyBytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(generator.distinctUsers).toBe(generator.templates * 1000);
    generator.next();
    expect(generator.stats.bodies).toBe(1);
    expect(generator.stats.milliseconds).toBeGreaterThanOrEqual(0);
  });

  it('refuses nonsense options with a message naming the option', () => {
    expect(() => generatorWith({ users: 0 })).toThrow(
      'Expected `users` to be a positive integer, got `0` (number)',
    );
    expect(() => generatorWith({ duplicateRate: 2 })).toThrow('`duplicateRate` to be between 0 and 1');
  });
});
