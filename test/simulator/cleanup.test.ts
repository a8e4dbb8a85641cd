/** `--cleanup`, and the report's way to remove a run's cohorts, against our receiver (in-process, real HTTP). */
import { afterEach, describe, expect, it } from 'vitest';
import { cohortUrl } from '../../simulator/cleanup.ts';
import { formatReport } from '../../simulator/report.ts';
import { runSimulation } from '../../simulator/simulate.ts';
import { type ReceiverUnderTest, startOurReceiver, testOptions } from './harness.ts';

let receiver: ReceiverUnderTest | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const token = 'sim-cleanup-secret';
const auth = { authorization: `Bearer ${token}` };

async function listedCohorts(url: string): Promise<string[]> {
  const body = (await (await fetch(`${url}/cohorts`, { headers: auth })).json()) as {
    cohorts: { cohort_id: string }[];
  };
  return body.cohorts.map((cohort) => cohort.cohort_id);
}

describe('removing the cohorts a simulation made', () => {
  it('removes every cohort of a passing run with --cleanup, and says so', async () => {
    receiver = await startOurReceiver({ STORE: 'sqlite', AUTH_TOKENS: token });
    const result = await runSimulation(
      // A longer settle: a busy machine can pause the SQLite apply longer than the harness's 300 ms.
      testOptions(`${receiver.url}/webhook`, { headers: auth, cleanup: true, settleMs: 3000 }),
    );
    expect(result.verdict, formatReport(result)).toBe('pass');
    expect(result.cleanup).toEqual({ removed: result.cohortIds, absent: [] });
    expect(await listedCohorts(receiver.url)).toEqual([]);
    expect(formatReport(result)).toContain("Cleanup: removed 2 of this run's 2 cohorts");
  });

  it('keeps the cohorts without --cleanup, and the report says how to remove them', async () => {
    receiver = await startOurReceiver({ STORE: 'memory', AUTH_TOKENS: token });
    const result = await runSimulation(testOptions(`${receiver.url}/webhook`, { headers: auth }));
    expect(result.verdict, formatReport(result)).toBe('pass');
    expect(result.cleanup).toBeUndefined();
    expect((await listedCohorts(receiver.url)).sort()).toEqual([...result.cohortIds].sort());
    const report = formatReport(result);
    expect(report).toContain(
      `This run's cohorts stay in the endpoint's store: ${result.cohortIds.join(', ')}`,
    );
    const first = result.cohortIds[0] as string;
    expect(report).toContain(`curl -X DELETE '${cohortUrl(`${receiver.url}/`, first)}'`);
    // The printed command works.
    const removed = await fetch(cohortUrl(`${receiver.url}/`, first), { method: 'DELETE', headers: auth });
    expect(await removed.json()).toEqual({ cohort_id: first, removed: true });
    expect(await listedCohorts(receiver.url)).not.toContain(first);
  });

  it('reports a cleanup the endpoint refuses, without changing the verdict', async () => {
    receiver = await startOurReceiver({ STORE: 'memory', AUTH_TOKENS: token });
    // Webhooks take the secret in the URL; the read API gets a wrong one.
    const result = await runSimulation(
      testOptions(`${receiver.url}/webhook?token=${token}`, {
        readUrl: `${receiver.url}/?token=${token}`,
        cleanup: true,
      }),
      {
        fetch: (input, init) =>
          init?.method === 'DELETE'
            ? globalThis.fetch(String(input).replace(token, 'wrong'), init)
            : globalThis.fetch(input, init),
      },
    );
    expect(result.verdict, formatReport(result)).toBe('pass');
    expect(result.cleanup?.removed).toEqual([]);
    expect(result.cleanup?.error).toMatch(/answered 401/);
    expect(formatReport(result)).toContain('Cleanup: removed 0 of');
  });
});
