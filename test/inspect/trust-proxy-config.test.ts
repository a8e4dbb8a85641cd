import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/compose.ts';
import { trustedProxyList } from '../../src/inspect/client.ts';
import { settingsOf } from '../../src/runtime/config.ts';

describe('TRUST_PROXY', () => {
  it('trusts no proxy by default', () => {
    expect(settingsOf(loadConfig({}), 'inspect').TRUST_PROXY).toEqual([]);
  });

  it('takes addresses and CIDR ranges, and the list matches what it names', () => {
    const TRUST_PROXY = settingsOf(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1' }), 'inspect')
      .TRUST_PROXY as string[];
    expect(TRUST_PROXY).toEqual(['10.0.0.0/8', '127.0.0.1', '::1']);
    const list = trustedProxyList(TRUST_PROXY);
    expect(list.check('10.200.3.4', 'ipv4')).toBe(true);
    expect(list.check('127.0.0.1', 'ipv4')).toBe(true);
    expect(list.check('127.0.0.2', 'ipv4')).toBe(false);
    expect(list.check('::1', 'ipv6')).toBe(true);
    expect(list.check('192.168.0.1', 'ipv4')).toBe(false);
  });

  it('refuses an entry that is neither, naming it', () => {
    for (const bad of ['proxy.local', '10.0.0.0/33', '10.0.0.1/8/2', '::1/129', '10.0.0.0/x']) {
      expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(
        `invalid configuration: TRUST_PROXY: ${JSON.stringify(bad)} is not an IP address or CIDR range`,
      );
    }
  });
});
