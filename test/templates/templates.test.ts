import { beforeAll, describe, expect, it } from 'vitest';
import { createHarness } from '../http/app-harness.ts';
import { expectedBody, expectedMembers, type ShippedTemplate, shippedTemplates } from './expected-output.ts';
import {
  freemarkerUnavailableReason,
  type RenderJob,
  type RenderResult,
  renderTemplates,
} from './freemarker.ts';
import { type HostileInput, hostileInputs } from './hostile-inputs.ts';

// Each template is rendered under today's defaults and under FreeMarker's oldest ones with a
// German locale (decimal comma, "." grouping): a template that is right must not depend on either.
const configurations = [
  { version: '2.3.31', locale: 'en_US' },
  { version: '2.3.0', locale: 'de_DE' },
];

const unavailable = freemarkerUnavailableReason();
// In CI (REQUIRE_SERVICES=1) a missing engine is a failure, not a skip: .ci/run installs it.
const skip = unavailable !== undefined && process.env.REQUIRE_SERVICES !== '1';

type Member = { user_id: string; since: number; user_properties: unknown };

async function readMembers(harness: ReturnType<typeof createHarness>, cohortId: string): Promise<Member[]> {
  const members: Member[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '1000', ...(cursor === null ? {} : { cursor }) });
    const response = await harness.app.request(`/cohorts/${encodeURIComponent(cohortId)}/members?${query}`);
    const page = (await response.json()) as { members: Member[]; next_cursor: string | null };
    members.push(...page.members);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return members;
}

const byUserId = (a: { user_id: string }, b: { user_id: string }) =>
  a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0;

describe.skipIf(skip)(
  `shipped templates rendered by Apache FreeMarker${skip ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    const inputs = hostileInputs();
    const cases = shippedTemplates.flatMap((template) => inputs.map((hostile) => ({ template, hostile })));
    const results = new Map<string, RenderResult[]>();
    const key = (template: ShippedTemplate, hostile: HostileInput) => `${template}|${hostile.name}`;

    beforeAll(async () => {
      const jobs: RenderJob[] = cases.flatMap(({ template, hostile }) =>
        configurations.map((configuration) => ({
          template: `templates/${template}.ftl`,
          input: hostile.input,
          ...configuration,
        })),
      );
      const rendered = await renderTemplates(jobs);
      cases.forEach(({ template, hostile }, index) => {
        const start = index * configurations.length;
        results.set(key(template, hostile), rendered.slice(start, start + configurations.length));
      });
    }, 120_000);

    describe.each(shippedTemplates)('templates/%s.ftl', (template) => {
      it.each(inputs)('renders $name as the expected JSON under every configuration', (hostile) => {
        const outputs = results.get(key(template, hostile)) ?? [];
        expect(outputs).toHaveLength(configurations.length);
        for (const [index, result] of outputs.entries()) {
          const label = `${configurations[index]?.version} ${configurations[index]?.locale}`;
          if (!result.ok) throw new Error(`${label}: FreeMarker failed: ${result.error}`);
          expect(JSON.parse(result.output), label).toEqual(expectedBody(template, hostile.input));
        }
      });

      it.each(inputs)('renders $name into a body the receiver accepts and applies', async (hostile) => {
        const [result] = results.get(key(template, hostile)) ?? [];
        if (!result?.ok) throw new Error(`FreeMarker failed: ${result?.error}`);
        const harness = createHarness({ maxBodyBytes: 32 * 1024 * 1024 });
        const response = await harness.post(result.output);
        if (template === 'per-user-flags' && hostile.input.users.length === 0) {
          // `[]` names no cohort, so the receiver cannot apply it; see the README's Templates section.
          expect(response.status).toBe(422);
          return;
        }
        expect(response.status, await response.clone().text()).toBe(200);
        expect(await response.json()).toMatchObject({
          status: 'accepted',
          users: hostile.input.users.length,
        });
        await harness.settle();
        const members = (await readMembers(harness, hostile.input.cohort_id)).sort(byUserId);
        const expected = expectedMembers(template, hostile.input).sort(byUserId);
        expect(members.map(({ user_id, user_properties }) => ({ user_id, user_properties }))).toEqual(
          expected.map(({ user_id, user_properties }) => ({ user_id, user_properties })),
        );
        for (const [index, member] of members.entries()) {
          const since = expected[index]?.since;
          // The flag list carries no time: the receiver uses its receive time, so only its type is known.
          if (since === undefined) expect(member.since).toBeTypeOf('number');
          else expect(member.since).toBe(since);
        }
      });
    });
  },
);
