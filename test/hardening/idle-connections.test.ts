/**
 * Connections that send nothing, or nothing more, cannot take the place of clients with requests:
 * a silent connection is closed after FIRST_BYTE_TIMEOUT_MS, and at MAX_CONNECTIONS a new
 * connection takes the place of one doing nothing for anyone. Real servers on 127.0.0.1; no
 * assertion on how long anything took (latencies are printed).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { firstResponse, holdSilentConnections, openConnection, type RawConnection } from './raw-http.ts';
import { amplitudeBody, startTestReceiver, type TestReceiver } from './receiver.ts';

/** Far above any timeout configured here: only a server that never answers goes past it. */
const bound = 15_000;

interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** One request on a connection of its own (no pool), answered or failed within `bound`. */
function send(
  port: number,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: init.method ?? 'GET',
        agent: false,
        timeout: bound,
        headers: { connection: 'close', ...init.headers },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${bound} ms`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Metrics of a receiver with auth, read on a connection of its own. */
async function clientErrors(
  port: number,
  headers: Record<string, string> = {},
): Promise<Map<string, number>> {
  const { body } = await send(port, '/metrics', { headers });
  const counts = new Map<string, number>();
  for (const match of body.matchAll(/^cohort_receiver_client_errors_total\{reason="(\w+)"\} (\d+)$/gm)) {
    counts.set(match[1] as string, Number(match[2]));
  }
  return counts;
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ?? 0;

describe('1,000 silent connections, reopened as they close', () => {
  const secret = 'idle-connections-secret';
  const auth = { authorization: `Bearer ${secret}` };
  let dir: TempDir;
  let child: ReceiverProcess;
  let port: number;
  beforeAll(async () => {
    dir = await createTempDir('idle-connections');
    child = await startReceiverProcess({
      env: {
        SQLITE_PATH: `${dir.path}/cohorts.db`,
        AUTH_TOKENS: secret,
        SINKS: 'none',
        MAX_CONNECTIONS: '1000',
        FIRST_BYTE_TIMEOUT_MS: '2000',
      },
    });
    port = Number(new URL(child.url).port);
  });
  afterAll(async () => {
    await child?.stop();
    await dir?.remove();
  });

  it('leave room for /healthz and webhooks, each on a new connection, all answered 200', async () => {
    const crowd = await holdSilentConnections(port, 1000);
    const probes: Promise<Answer>[] = [];
    const webhooks: Promise<Answer>[] = [];
    try {
      // Longer than FIRST_BYTE_TIMEOUT_MS: the crowd is closed and reopened meanwhile.
      const until = performance.now() + 8_000;
      // A failure is kept as an answer with status 0, so it fails the assertion below, not the run.
      const failed = (error: Error): Answer => ({ status: 0, body: error.message, ms: Number.NaN });
      for (let tick = 0; performance.now() < until; tick++) {
        probes.push(send(port, '/healthz').catch(failed));
        if (tick % 3 === 0) {
          const body = amplitudeBody(`crowd-${tick}`, ['u1', 'u2'], { cohort_id: 'crowd' });
          webhooks.push(send(port, '/webhook', { method: 'POST', headers: auth, body }).catch(failed));
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const answers = await Promise.all([...probes, ...webhooks]);
      for (const answer of answers) expect(answer.status).toBe(200);
      const webhookAnswers = answers.slice(probes.length);
      for (const answer of webhookAnswers)
        expect(JSON.parse(answer.body)).toMatchObject({ status: 'accepted' });
      const ms = answers.map((answer) => answer.ms);
      console.info(
        `${answers.length} answers beside ${crowd.opened()} silent connections: ` +
          `p50 ${percentile(ms, 50).toFixed(1)} ms, p99 ${percentile(ms, 99).toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms`,
      );
    } finally {
      await crowd.stop();
    }
    // The crowd was both timed out and made room from; each is counted and logged.
    const counts = await clientErrors(port, auth);
    expect(counts.get('idle_timeout')).toBeGreaterThan(0);
    expect(counts.get('evicted')).toBeGreaterThan(0);
    expect(counts.get('max_connections')).toBe(0);
    await child.waitForLog('connection closed: nothing sent within FIRST_BYTE_TIMEOUT_MS');
    await child.waitForLog('connection closed to make room for a new one');
  });
});

describe('which connection gives way', () => {
  let receiver: TestReceiver | undefined;
  afterAll(async () => {
    await receiver?.stop();
  });
  const start = async (env: Record<string, string>) => {
    await receiver?.stop();
    receiver = await startTestReceiver({ SINKS: 'none', ...env });
    return receiver;
  };
  /** Opens connections one after the other: the server accepts them in this order. */
  const openInOrder = async (port: number, count: number) => {
    const connections: RawConnection[] = [];
    for (let i = 0; i < count; i++) connections.push(await openConnection(port));
    return connections;
  };
  const answered = async (connection: RawConnection) => {
    while (firstResponse(connection.received()) === undefined && !connection.socket.destroyed) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return firstResponse(connection.received());
  };

  it('a connection that sends nothing gets 408 after FIRST_BYTE_TIMEOUT_MS; one sending its headers is left to HEADERS_TIMEOUT_MS', async () => {
    const { port } = await start({ FIRST_BYTE_TIMEOUT_MS: '200', HEADERS_TIMEOUT_MS: '20000' });
    const [silent, talking] = (await openInOrder(port, 2)) as [RawConnection, RawConnection];
    talking.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n');
    await silent.closedWithin(bound);
    expect(firstResponse(silent.received())).toEqual({ status: 408, json: { error: 'idle_timeout' } });
    expect(talking.socket.destroyed).toBe(false);
    talking.socket.write('Connection: close\r\n\r\n');
    expect(await answered(talking)).toEqual({ status: 200, json: { status: 'ok' } });
  });

  it('at MAX_CONNECTIONS, the oldest silent connection gives way to a new one', async () => {
    const { port } = await start({ MAX_CONNECTIONS: '4', KEEP_ALIVE_TIMEOUT_MS: '60000' });
    // An idle keep-alive connection older than the silent ones: it is kept, they go first.
    const [resting] = await openInOrder(port, 1);
    resting?.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
    expect(await answered(resting as RawConnection)).toEqual({ status: 200, json: { status: 'ok' } });
    const silent = await openInOrder(port, 3);
    const newcomer = await openConnection(port);
    newcomer.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
    expect(await answered(newcomer)).toEqual({ status: 200, json: { status: 'ok' } });
    await silent[0]?.closedWithin(bound);
    expect(firstResponse(silent[0]?.received() ?? '')).toEqual({ status: 503, json: { error: 'evicted' } });
    expect(silent.slice(1).map((connection) => connection.socket.destroyed)).toEqual([false, false]);
    expect(resting?.socket.destroyed).toBe(false);
  });

  it('with no silent connection left, the oldest idle keep-alive one gives way', async () => {
    const { port } = await start({ MAX_CONNECTIONS: '3', KEEP_ALIVE_TIMEOUT_MS: '60000' });
    const resting = await openInOrder(port, 3);
    for (const connection of resting) {
      connection.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
      expect(await answered(connection)).toEqual({ status: 200, json: { status: 'ok' } });
    }
    const newcomer = await openConnection(port);
    newcomer.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
    expect(await answered(newcomer)).toEqual({ status: 200, json: { status: 'ok' } });
    await resting[0]?.closedWithin(bound);
    // Its first answer, then the unsolicited 503 that says why it was closed.
    expect(resting[0]?.received()).toContain('{"error":"evicted"}');
    expect(resting.slice(1).map((connection) => connection.socket.destroyed)).toEqual([false, false]);
  });
});
