/**
 * @module The outside services some suites need (Redis, Postgres), and what happens without one: the
 * suite is skipped with the reason printed, or, with REQUIRE_SERVICES=1 (CI), it fails instead.
 */
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import pg from 'pg';
import { describe, it } from 'vitest';
import { extensions } from '../../src/compose.ts';

/** Where the Redis suites find Redis: `REDIS_URL`, else the default local port. */
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Where the Postgres suites find Postgres: `DATABASE_URL`, else the local `test` database. */
export const databaseUrl = process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/test';

/** CI sets REQUIRE_SERVICES=1: a missing service is then a failure, never a silent skip. */
export const servicesRequired = process.env.REQUIRE_SERVICES === '1';

export type ServiceName = 'redis' | 'postgres';

export interface ServiceProbe {
  /** e.g. `Redis at redis://127.0.0.1:6379` */
  name: string;
  available: boolean;
  /** Why it is unavailable (empty when it answers). */
  reason: string;
  /** True when this build has no extension for the service (src/compose.ts): nothing to test. */
  notBuilt?: boolean;
}

/** The extensions this build has: a suite for one that was deleted has nothing to test. */
const built = new Set(extensions.map((extension) => extension.name));

/**
 * pg options for `databaseUrl`. A URL without a user name logs in as the operating system's user, as
 * psql does (pg alone would fail with "no PostgreSQL user name specified" where USER is unset).
 */
export function postgresConnection(): pg.ClientConfig {
  if (new pg.Client({ connectionString: databaseUrl }).user) return { connectionString: databaseUrl };
  // In the URL: pg lets the fields parsed from connectionString (user: undefined) override a `user` option.
  const url = new URL(databaseUrl);
  url.username = encodeURIComponent(userInfo().username);
  return { connectionString: url.href };
}

const probes = new Map<ServiceName, Promise<ServiceProbe>>();

/** Whether the service answers (asked once per test file). */
export function probeService(service: ServiceName): Promise<ServiceProbe> {
  let probe = probes.get(service);
  if (probe === undefined && !built.has(service)) {
    probe = Promise.resolve({
      name: service,
      available: false,
      reason: `this build has no ${service} extension (src/compose.ts)`,
      notBuilt: true,
    });
  }
  if (probe === undefined) {
    probe = service === 'redis' ? pingRedis(redisUrl) : pingPostgres();
    probes.set(service, probe);
  }
  return probe;
}

/** Whether Redis answers PING at `redisUrl` within 1 s. */
export function probeRedis(): Promise<ServiceProbe> {
  return probeService('redis');
}

/** Whether Postgres at `databaseUrl` answers `SELECT 1` within 2 s. */
export function probePostgres(): Promise<ServiceProbe> {
  return probeService('postgres');
}

/** PING over a raw socket: no client library, no reconnection attempts to wait out. */
function pingRedis(url: string): Promise<ServiceProbe> {
  const { hostname, port } = new URL(url);
  const name = `Redis at ${url}`;
  return new Promise((resolve) => {
    const socket = connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (reason: string) => {
      socket.destroy();
      resolve({ name, available: reason === '', reason });
    };
    socket.setTimeout(1000, () => done('no answer within 1 s'));
    socket.once('error', (error) => done(error.message));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      const reply = data.toString().trim();
      done(reply === '+PONG' ? '' : `answered ${JSON.stringify(reply.slice(0, 80))} to PING`);
    });
  });
}

async function pingPostgres(): Promise<ServiceProbe> {
  const { hostname, port, pathname } = new URL(databaseUrl);
  const name = `Postgres at postgres://${hostname || '127.0.0.1'}:${port || 5432}${pathname}`;
  const client = new pg.Client({ ...postgresConnection(), connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { name, available: true, reason: '' };
  } catch (error) {
    return { name, available: false, reason: (error as Error).message };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * `describe(name, body)` when the service answers. Otherwise the suite is skipped and the reason
 * printed, or, when REQUIRE_SERVICES=1, replaced by one failing test naming the service and why.
 * Two spellings, both at the top of a test file:
 * `describeWithService(await probeRedis(), 'Redis queue', () => {…})` or
 * `await describeWithService('redis', 'Redis queue', () => {…})`.
 */
export function describeWithService(probe: ServiceProbe, name: string, body: () => void): void;
export function describeWithService(service: ServiceName, name: string, body: () => void): Promise<void>;
export function describeWithService(
  probeOrService: ServiceProbe | ServiceName,
  name: string,
  body: () => void,
): void | Promise<void> {
  if (typeof probeOrService === 'string') {
    return probeService(probeOrService).then((probe) => describeProbed(probe, name, body));
  }
  describeProbed(probeOrService, name, body);
}

function describeProbed(probe: ServiceProbe, name: string, body: () => void): void {
  if (probe.available) {
    describe(name, body);
    return;
  }
  if (probe.notBuilt) {
    console.warn(`skipping "${name}": ${probe.reason}`);
    describe.skip(name, body);
    return;
  }
  if (servicesRequired) {
    describe(name, () => {
      it(`needs ${probe.name} (REQUIRE_SERVICES=1)`, () => {
        throw new Error(`${probe.name} is unavailable: ${probe.reason}`);
      });
    });
    return;
  }
  const variable = probe.name.startsWith('Redis') ? 'REDIS_URL' : 'DATABASE_URL';
  console.warn(
    `skipping "${name}": ${probe.name} is unavailable (${probe.reason}); start it or set ${variable}`,
  );
  describe.skip(name, body);
}
