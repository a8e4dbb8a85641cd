/**
 * Keeps the README's claims about Amplitude's published example templates honest: the files in
 * `amplitude-examples/` are copied verbatim from Amplitude's "Cohort Webhooks" page (the
 * `path-corrected` one only reads `user.user_properties` instead of the missing
 * `input.user_properties`), and this renders them with the real engine.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  freemarkerUnavailableReason,
  type RenderJob,
  type RenderResult,
  renderTemplates,
} from './freemarker.ts';

const unavailable = freemarkerUnavailableReason();
const skip = unavailable !== undefined && process.env.REQUIRE_SERVICES !== '1';

const input = (overrides: Record<string, unknown> = {}) => ({
  cohort_name: 'Trial ending soon',
  cohort_id: 'q3k9xw1',
  in_cohort: true,
  computed_time: '1692206763',
  message_id: '0b6f3f0e-5c1a-4d7e-9a61-1f2b3c4d5e6f',
  users: [{ user_id: 'user-1001', user_properties: { sessions: 17 } }],
  ...overrides,
});
const withProperty = (value: unknown) => input({ users: [{ user_id: 'u1', user_properties: { value } }] });
const example = (name: string) => `test/templates/amplitude-examples/${name}.ftl`;

const jobs = {
  idsPlain: { template: example('user-ids-only'), input: input() },
  idsQuote: { template: example('user-ids-only'), input: input({ cohort_name: 'The "best" users' }) },
  idsBackslash: { template: example('user-ids-only'), input: input({ cohort_name: 'C:\\cohorts' }) },
  propertiesAsPublished: { template: example('with-properties'), input: input() },
  correctedThousands: { template: example('with-properties.path-corrected'), input: withProperty(1234) },
  correctedBoolean: { template: example('with-properties.path-corrected'), input: withProperty(true) },
  correctedNull: { template: example('with-properties.path-corrected'), input: withProperty(null) },
  perUser: { template: example('per-user'), input: input() },
} satisfies Record<string, RenderJob>;

describe.skipIf(skip)(
  `Amplitude's published example templates${skip ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    const results = {} as Record<keyof typeof jobs, RenderResult>;
    beforeAll(async () => {
      const names = Object.keys(jobs) as (keyof typeof jobs)[];
      const rendered = await renderTemplates(names.map((name) => jobs[name]));
      names.forEach((name, index) => {
        results[name] = rendered[index] as RenderResult;
      });
    }, 60_000);

    const output = (result: RenderResult) => {
      if (!result.ok) throw new Error(`FreeMarker failed: ${result.error}`);
      return result.output;
    };

    it('"user IDs only" renders valid JSON until a cohort name holds a quote or a backslash', () => {
      expect(() => JSON.parse(output(results.idsPlain))).not.toThrow();
      expect(() => JSON.parse(output(results.idsQuote))).toThrow(SyntaxError);
      expect(() => JSON.parse(output(results.idsBackslash))).toThrow(SyntaxError);
    });

    it('"with user properties" fails as published: input.user_properties does not exist', () => {
      expect(results.propertiesAsPublished).toMatchObject({ ok: false });
      expect(results.propertiesAsPublished.ok || results.propertiesAsPublished.error).toMatch(
        /user_properties/,
      );
    });

    it('"with user properties", even with the path corrected, prints 1234 as 1,234 (invalid JSON)', () => {
      expect(output(results.correctedThousands)).toContain('"value": 1,234');
      expect(() => JSON.parse(output(results.correctedThousands))).toThrow(SyntaxError);
    });

    it('"with user properties", even with the path corrected, fails on a boolean and on a null value', () => {
      expect(results.correctedBoolean.ok || results.correctedBoolean.error).toMatch(/boolean_format/);
      expect(results.correctedNull.ok || results.correctedNull.error).toMatch(/null or missing/);
    });

    it('"per user" is not FreeMarker at all: it fails to parse', () => {
      expect(results.perUser.ok || results.perUser.error).toMatch(/ParseException/);
    });
  },
);
