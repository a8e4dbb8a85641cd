import { describe, expect, it } from 'vitest';
import { oneTurnEach } from '../src/core/event-loop-turns.ts';

describe('oneTurnEach', () => {
  it('resolves one call per turn of the event loop, in call order', async () => {
    // A ticker that re-arms itself with setImmediate runs once per turn: it counts turns.
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns += 1;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const next = oneTurnEach();
    const seen: [number, number][] = [];
    await Promise.all([1, 2, 3, 4, 5].map((call) => next().then(() => seen.push([call, turns]))));
    ticking = false;
    expect(seen.map(([call]) => call)).toEqual([1, 2, 3, 4, 5]);
    const atTurn = seen.map(([, turn]) => turn);
    // Each call resolved at least one turn after the one before it: never two in the same turn.
    for (let index = 1; index < atTurn.length; index++) {
      expect(atTurn[index]).toBeGreaterThan(atTurn[index - 1] as number);
    }
  });
});
