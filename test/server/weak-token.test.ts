/**
 * A weak secret (the README's demo secret, or under 16 characters) is named at start by its index,
 * never shown, and keeps a receiver without HOST on loopback; HOST set explicitly binds as asked.
 * Real processes; where each one listens is read from the kernel's socket table, not its log.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

let dir: TempDir | undefined;
let running: ReceiverProcess | undefined;
afterEach(async () => {
  await running?.stop();
  await dir?.remove();
  running = dir = undefined;
});

/** The IPv4 address a listening TCP socket on `port` is bound to, from /proc/net/tcp. */
function boundAddress(port: number): string | undefined {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, , state] = line.trim().split(/\s+/);
    const [addressHex, localPort] = (local ?? '').split(':');
    if (localPort !== portHex || state !== '0A' || addressHex === undefined) continue;
    // Little-endian bytes: 0100007F is 127.0.0.1.
    return (addressHex.match(/../g) ?? [])
      .map((byte) => Number.parseInt(byte, 16))
      .reverse()
      .join('.');
  }
  return undefined;
}

async function start(env: Record<string, string>) {
  dir = await createTempDir('weak-token');
  // HOST='' is HOST unset: the default is what is checked.
  running = await startReceiverProcess({ env: { SQLITE_PATH: join(dir.path, 'c.db'), HOST: '', ...env } });
  return running;
}

const warningsAbout = (receiver: ReceiverProcess) =>
  receiver.logLines.filter((line) => line.level === 40 && String(line.msg).startsWith('AUTH_TOKENS['));

describe('a weak AUTH_TOKENS secret', () => {
  it('with the demo secret and no HOST: listens on 127.0.0.1 only, and warns naming the index', async () => {
    const receiver = await start({ AUTH_TOKENS: 'local-demo-secret' });
    const port = Number(new URL(receiver.url).port);
    expect(boundAddress(port)).toBe('127.0.0.1');
    const warnings = warningsAbout(receiver);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ token_index: 0, host: '127.0.0.1' });
    expect(warnings[0]?.msg).toContain(
      "AUTH_TOKENS[0] is the README's demo secret: listening on 127.0.0.1 only",
    );
    expect(warnings[0]?.msg).toContain('HOST=0.0.0.0');
  });

  it('with HOST=0.0.0.0 set: binds every interface as asked, and still warns for each weak token', async () => {
    const receiver = await start({ AUTH_TOKENS: '3f9c1e7a5b2d8f40a6c3e1b7d9f2a5c8,s3cret', HOST: '0.0.0.0' });
    expect(boundAddress(Number(new URL(receiver.url).port))).toBe('0.0.0.0');
    const warnings = warningsAbout(receiver);
    expect(warnings.map((line) => line.token_index)).toEqual([1]);
    expect(warnings[0]?.msg).toContain('AUTH_TOKENS[1] is shorter than 16 characters, on HOST=0.0.0.0');
    // The secret itself never reaches the log.
    expect(receiver.output()).not.toContain('s3cret');
  });

  it('with a long random secret: listens on every interface and says nothing about it', async () => {
    const receiver = await start({ AUTH_TOKENS: '3f9c1e7a5b2d8f40a6c3e1b7d9f2a5c8' });
    expect(boundAddress(Number(new URL(receiver.url).port))).toBe('0.0.0.0');
    expect(warningsAbout(receiver)).toEqual([]);
  });
});
