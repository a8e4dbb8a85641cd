import { describe, expect, it } from 'vitest';
import { createPlan, type PlanOptions, secondsPerStep } from '../../simulator/plan.ts';
import { scheduleDeliveries } from '../../simulator/schedule.ts';
import { findRepeatedBodies, renderBody } from '../../simulator/shapes.ts';

const planOptions: PlanOptions = {
  cohorts: 2,
  users: 200,
  steps: 5,
  batchSize: 25,
  properties: 8,
  churn: 0.2,
  seed: 99,
  runId: 'plan-test',
  startTime: 1_700_000_000,
  shape: 'default',
};

describe('createPlan', () => {
  it('gives the same messages for the same seed, and others for another seed', () => {
    expect(createPlan(planOptions)).toEqual(createPlan(planOptions));
    expect(createPlan({ ...planOptions, seed: 100 }).messages).not.toEqual(createPlan(planOptions).messages);
  });

  it('starts with a full sync of adds, then steps 60 s apart, each message one cohort and one direction', () => {
    const { messages } = createPlan(planOptions);
    const initial = messages.filter((message) => message.step === 0);
    expect(initial.length).toBeGreaterThan(0);
    expect(initial.every((message) => message.inCohort && message.computedTime === 1_700_000_000)).toBe(true);
    for (const message of messages) {
      expect(message.computedTime).toBe(1_700_000_000 + message.step * secondsPerStep);
      expect(message.users.length).toBeGreaterThan(0);
      expect(message.users.length).toBeLessThanOrEqual(25);
      expect(message.messageId).toMatch(/^plan-test-c[12]-s\d+::(enter|exit)::\d+$/);
    }
    expect(new Set(messages.map((message) => message.messageId)).size).toBe(messages.length);
  });

  it('only ever sends a user the opposite of their current state, as Amplitude syncs only changes', () => {
    const inCohort = new Map<string, boolean>();
    for (const message of createPlan(planOptions).messages) {
      for (const user of message.users) {
        const key = `${message.cohortId}|${user.userId}`;
        expect(inCohort.get(key) ?? false).toBe(!message.inCohort);
        inCohort.set(key, message.inCohort);
      }
    }
  });

  it('carries the requested number of properties only in the default shape', () => {
    const withProperties = createPlan(planOptions).messages.find((message) => message.inCohort);
    expect(Object.keys(withProperties?.users[0]?.properties ?? {})).toHaveLength(8);
    for (const shape of ['user-ids-only', 'per-user-flags'] as const) {
      const users = createPlan({ ...planOptions, shape }).messages.flatMap((message) => message.users);
      expect(users.every((user) => user.properties === undefined)).toBe(true);
    }
  });
});

describe('renderBody', () => {
  const message = createPlan(planOptions).messages[0];
  if (message === undefined) throw new Error('empty plan');

  it('renders the default shape with computed_time as a string', () => {
    const body = JSON.parse(renderBody(message, 'default'));
    expect(body).toMatchObject({ cohort_id: message.cohortId, computed_time: '1700000000', in_cohort: true });
    expect(body.users[0]).toEqual({
      user_id: message.users[0]?.userId,
      user_properties: message.users[0]?.properties,
    });
  });

  it('renders the per-user flag list with the amplitude_<name>_<id> key', () => {
    const body = JSON.parse(renderBody(message, 'per-user-flags'));
    expect(body[0]).toEqual({
      user_id: message.users[0]?.userId,
      [`amplitude_${message.cohortName}_${message.cohortId}`]: true,
    });
  });

  it('finds bodies byte-identical to an earlier one', () => {
    expect(findRepeatedBodies(['a', 'b', 'a', 'c', 'b'])).toEqual([
      [2, 0],
      [4, 1],
    ]);
  });
});

describe('scheduleDeliveries', () => {
  const { messages } = createPlan(planOptions);
  const schedule = (overrides: Partial<Parameters<typeof scheduleDeliveries>[1]> = {}) =>
    scheduleDeliveries(messages, {
      reorderWindow: 0,
      duplicateRate: 0,
      concurrency: 4,
      segmentBySteps: false,
      seed: 1,
      ...overrides,
    });

  it('keeps the planned order with a window of 0 and no duplicates', () => {
    expect(schedule()).toEqual([messages.map((message) => ({ messageIndex: message.index, copy: 0 }))]);
  });

  it('lets a message fall behind at most `reorderWindow` later ones, and reorders some', () => {
    const [segment = []] = schedule({ reorderWindow: 5 });
    const positions = segment.map((delivery) => delivery.messageIndex);
    expect(positions).not.toEqual([...positions].sort((a, b) => a - b));
    positions.forEach((messageIndex, position) => {
      expect(Math.abs(position - messageIndex)).toBeLessThanOrEqual(5);
    });
  });

  it('sends a duplicate after its original', () => {
    const [segment = []] = schedule({ duplicateRate: 0.5, reorderWindow: 3 });
    const copies = segment.filter((delivery) => delivery.copy === 1);
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const original = segment.findIndex((d) => d.messageIndex === copy.messageIndex && d.copy === 0);
      expect(segment.indexOf(copy)).toBeGreaterThan(original);
    }
  });

  it('keeps each step in its own segment, in step order, when segmenting by steps', () => {
    const segments = schedule({ segmentBySteps: true, reorderWindow: 10, duplicateRate: 0.3 });
    expect(segments).toHaveLength(planOptions.steps + 1);
    segments.forEach((segment, step) => {
      expect(segment.every((delivery) => messages[delivery.messageIndex]?.step === step)).toBe(true);
    });
  });
});
