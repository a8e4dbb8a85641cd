/** The inspector's settings: INSPECT, INSPECT_PATH, INSPECT_MAX_DELIVERIES, ADMIN_TOKENS. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/compose.ts';
import { settingsOf } from '../../src/runtime/config.ts';

/** loadConfig's refusal message, or 'accepted'. */
const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  return 'accepted';
};

describe('the inspector', () => {
  it('is on at /inspect, keeping 10,000 deliveries, with no admin tokens of its own by default', () => {
    expect(settingsOf(loadConfig({}), 'inspect')).toMatchObject({
      INSPECT: true,
      INSPECT_PATH: '/inspect',
      INSPECT_MAX_DELIVERIES: 10_000,
      ADMIN_TOKENS: [],
    });
  });

  it('reads INSPECT=off, another path and bound, and ADMIN_TOKENS as a list', () => {
    expect(
      settingsOf(
        loadConfig({
          INSPECT: 'off',
          INSPECT_PATH: '/ops/inspect',
          INSPECT_MAX_DELIVERIES: '500',
          ADMIN_TOKENS: ' ops-1, ops-2 ,',
        }),
        'inspect',
      ),
    ).toMatchObject({
      INSPECT: false,
      INSPECT_PATH: '/ops/inspect',
      INSPECT_MAX_DELIVERIES: 500,
      ADMIN_TOKENS: ['ops-1', 'ops-2'],
    });
  });

  it('names each bad inspector variable', () => {
    expect(
      refusal({ INSPECT: 'yes', INSPECT_PATH: 'inspect/', INSPECT_MAX_DELIVERIES: '0' }).split('\n'),
    ).toEqual([
      'invalid configuration: INSPECT: must be "on" or "off"',
      'invalid configuration: INSPECT_PATH: must be a path like "/inspect" (no trailing "/")',
      'invalid configuration: INSPECT_MAX_DELIVERIES: must be an integer from 1 to 1000000',
    ]);
  });

  it('refuses an INSPECT_PATH that overlaps a route the receiver serves, unless the page is off', () => {
    expect(refusal({ INSPECT_PATH: '/webhook' })).toBe(
      'invalid configuration: INSPECT_PATH: must not overlap /webhook, which the receiver serves',
    );
    expect(refusal({ INSPECT_PATH: '/hooks', WEBHOOK_PATH: '/hooks/amplitude' })).toContain(
      '/hooks/amplitude',
    );
    expect(refusal({ INSPECT_PATH: '/cohorts/inspect' })).toContain('must not overlap /cohorts');
    expect(refusal({ INSPECT_PATH: '/metrics' })).toContain('must not overlap /metrics');
    expect(settingsOf(loadConfig({ INSPECT: 'off', INSPECT_PATH: '/webhook' }), 'inspect').INSPECT).toBe(
      false,
    );
  });
});
