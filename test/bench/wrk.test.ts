/** The wrk driver's own parts: the body cut around its message_id, and wrk's result line read back. */
import { describe, expect, it } from 'vitest';
import { idMarker, parseWrkOutput, requestsPerSecond, splitBody, wrkScript } from '../../bench/wrk.ts';

describe('splitBody', () => {
  it('cuts a body so that prefix + id + suffix is the same batch with that message_id', () => {
    const batch = {
      cohort_name: 'Bench "cohort" 1',
      cohort_id: 'bench-1',
      in_cohort: true,
      computed_time: '1692206763',
      message_id: 'bench-run::0000000001',
      users: [{ user_id: 'user-1', user_properties: { plan: 'trial' } }],
    };
    const { prefix, suffix } = splitBody(JSON.stringify(batch));
    expect(JSON.parse(`${prefix}abc-1-42${suffix}`)).toEqual({ ...batch, message_id: 'abc-1-42' });
    expect(prefix + suffix).not.toContain(idMarker);
  });

  it('refuses a body without a message_id (the per-user flag list), which wrk could not make unique', () => {
    expect(() => splitBody('[{"user_id":"u1","amplitude_x_1":true}]')).toThrow(/message_id/);
  });
});

describe('parseWrkOutput', () => {
  const line =
    'WRK_JSON {"requests":1200,"durationUs":2000000,"non2xx":200,"connect":0,"read":0,"write":0,"timeout":0,"p50Us":900,"p90Us":1500,"p99Us":4000,"maxUs":9000}';

  it("reads the result line among wrk's own output, and counts only successful requests", () => {
    const result = parseWrkOutput(`Running 2s test @ http://127.0.0.1:1/webhook\n  1 threads\n${line}\n`);
    expect(result).toMatchObject({ requests: 1200, non2xx: 200, p99Us: 4000 });
    expect(requestsPerSecond(result)).toBe(500);
  });

  it('says so when wrk printed no result', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n')).toThrow(
      /no result/,
    );
  });

  it('prints that line from the Lua script, with every field the parser reads', () => {
    for (const field of ['requests', 'durationUs', 'non2xx', 'timeout', 'p50Us', 'p99Us', 'maxUs']) {
      expect(wrkScript).toContain(`"${field}":%d`);
    }
    expect(wrkScript).toContain("'WRK_JSON ");
  });
});
