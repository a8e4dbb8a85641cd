/**
 * @module Who is asking and how: the socket's address, whether it is on this machine, and whether
 * the browser reached us over HTTPS (itself, or through a proxy named in TRUST_PROXY).
 */
import { BlockList, isIP } from 'node:net';
import type { Context } from 'hono';
import type { InspectorEnv } from './env.ts';

/** The peer's address from @hono/node-server's socket; undefined in-process (`app.request`). */
export function remoteAddress(c: Context<InspectorEnv>): string | undefined {
  const address = c.env?.incoming?.socket?.remoteAddress;
  return address?.startsWith('::ffff:') ? address.slice(7) : address;
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || (isIP(address) === 4 && address.startsWith('127.'));
}

/** A request a proxy forwarded: with auth off, a proxy on this machine must not make everyone local. */
export function wasForwarded(c: Context<InspectorEnv>): boolean {
  return ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'].some(
    (name) => c.req.header(name) !== undefined,
  );
}

/** Why a TRUST_PROXY entry is neither an IP address nor a CIDR range; undefined when it is one. */
export function proxyEntryProblem(entry: string): string | undefined {
  const [address = '', prefixText, ...rest] = entry.split('/');
  const family = isIP(address);
  const maxPrefix = family === 4 ? 32 : 128;
  const prefix = Number(prefixText);
  const prefixOk = prefixText === undefined || (/^\d+$/.test(prefixText) && prefix <= maxPrefix);
  if (family === 0 || rest.length > 0 || !prefixOk) {
    return `${JSON.stringify(entry)} is not an IP address or CIDR range (e.g. 10.0.0.5, 10.0.0.0/8, ::1)`;
  }
  return undefined;
}

/**
 * The proxies of TRUST_PROXY: addresses (`10.0.0.5`, `::1`) or CIDR ranges (`10.0.0.0/8`).
 * @throws RangeError naming the first entry that is neither.
 */
export function trustedProxyList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const problem = proxyEntryProblem(entry);
    if (problem) throw new RangeError(problem);
    const [address = '', prefixText] = entry.split('/');
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (prefixText === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefixText), type);
  }
  return list;
}

export interface RequestOrigin {
  /** e.g. `https://inspect.example.com` */
  origin: string;
  https: boolean;
}

/** The origin the browser used: the URL as served, or X-Forwarded-Proto/-Host from a trusted proxy. */
export function requestOrigin(c: Context<InspectorEnv>, trusted: BlockList): RequestOrigin {
  const url = new URL(c.req.url);
  const address = remoteAddress(c);
  const family = address === undefined ? 0 : isIP(address);
  const fromProxy = family !== 0 && trusted.check(address as string, family === 4 ? 'ipv4' : 'ipv6');
  const forwarded = (name: string) => (fromProxy ? c.req.header(name)?.split(',')[0]?.trim() : undefined);
  const protocol = forwarded('x-forwarded-proto') === 'https' ? 'https:' : url.protocol;
  const host = forwarded('x-forwarded-host') || url.host;
  return { origin: `${protocol}//${host}`, https: protocol === 'https:' };
}
