/**
 * @module Quarantine and dead letters: lists, one letter, its exact bytes, and replay / drop of one
 * letter or by filter. Every action is a GET confirm page first, then a POST naming the letters the
 * page listed, so what runs is exactly what was confirmed.
 */

import type { Context } from 'hono';
import { Hono } from 'hono';
import type { Letter, LetterKind } from '../../core/dead-letters/dead-letters.ts';
import { replayed } from '../../replay/replay-letter.ts';
import { type InspectorContext, logAction, pageOf } from '../context.ts';
import { letterHref } from '../delivery-row.ts';
import type { InspectorEnv } from '../env.ts';
import { allLetterKinds, filterFields, parseLetterFilter, selectLetters } from '../letter-filter.ts';
import { plural } from '../plural.ts';
import { reject } from '../reject.tsx';
import { type Action, type ActionResult, ConfirmPage, ResultsPage } from '../views/confirm.tsx';
import { LetterPage, LettersPage } from '../views/letters.tsx';

const listSize = 100;
const deadLetterKinds: readonly LetterKind[] = ['failed', 'sink'];
const isAction = (value: unknown): value is Action => value === 'replay' || value === 'drop';

/** Letter ids are short and made by the backends; a form naming more than the cap is refused. */
const validId = (id: string) => id.length > 0 && id.length <= 200;

export function letterRoutes(ctx: InspectorContext) {
  const { base, deps } = ctx;
  const app = new Hono<InspectorEnv>();

  const list = (section: 'quarantine' | 'dead-letters', kinds: readonly LetterKind[]) =>
    async function listLetters(c: Context<InspectorEnv>) {
      const filter = parseLetterFilter(c.req.query(), kinds);
      if ('error' in filter) return reject(c, base, 400, 'invalid_filter', filter.error);
      const letters = await selectLetters(deps.deadLetters, filter);
      return c.html(
        <LettersPage
          {...pageOf(ctx, c)}
          section={section}
          kinds={kinds}
          filter={filter}
          letters={letters.slice(0, listSize)}
          matching={letters.length}
          replayBlocked={replayBlocked()}
        />,
      );
    };
  const replayBlocked = () => deps.replayBlocked ?? (deps.replay ? undefined : 'this process cannot replay');

  app.get('/quarantine', list('quarantine', ['rejected']));
  app.get('/dead-letters', list('dead-letters', deadLetterKinds));

  app.get('/letters/bulk', async (c) => {
    const action = c.req.query('action');
    if (!isAction(action)) return reject(c, base, 400, 'invalid_action', 'action must be replay or drop');
    if (action === 'replay' && replayBlocked())
      return reject(c, base, 409, 'replay_blocked', replayBlocked() as string);
    const filter = parseLetterFilter(c.req.query(), allLetterKinds);
    if ('error' in filter) return reject(c, base, 400, 'invalid_filter', filter.error);
    const matching = await selectLetters(deps.deadLetters, filter);
    const fields = new URLSearchParams(filterFields(filter, allLetterKinds));
    const back = `${base}${filter.kinds.length === 1 && filter.kinds[0] === 'rejected' ? '/quarantine' : '/dead-letters'}?${fields}`;
    return c.html(
      <ConfirmPage
        {...pageOf(ctx, c)}
        action={action}
        letters={matching.slice(0, ctx.bulkCap)}
        matching={matching.length}
        cap={ctx.bulkCap}
        postTo={`${base}/letters/bulk/${action}`}
        back={back}
      />,
    );
  });

  app.post('/letters/bulk/:action', async (c) => {
    const action = c.req.param('action');
    if (!isAction(action)) return reject(c, base, 404, 'invalid_action', 'action must be replay or drop');
    const form = await c.req.parseBody({ all: true });
    const ids = [form.id ?? []].flat().filter((id): id is string => typeof id === 'string');
    if (ids.length === 0 || !ids.every(validId))
      return reject(c, base, 400, 'invalid_ids', 'Name the letters (from the confirm page).');
    if (ids.length > ctx.bulkCap) {
      return reject(
        c,
        base,
        400,
        'over_cap',
        `At most ${plural(ctx.bulkCap, 'letter')} at a time; ${ids.length} were named.`,
      );
    }
    return act(c, action, ids);
  });

  app.get('/letters/:id', async (c) => {
    const letter = await deps.deadLetters.get(c.req.param('id'));
    if (letter === undefined) return letterNotFound(c);
    return c.html(<LetterPage {...pageOf(ctx, c)} letter={letter} replayBlocked={replayBlocked()} />);
  });

  app.get('/letters/:id/body', async (c) => {
    const letter = await deps.deadLetters.get(c.req.param('id'));
    if (letter === undefined) return letterNotFound(c);
    const bytes = Buffer.from(letter.body, letter.encoding === 'base64' ? 'base64' : 'utf8');
    // A cut body says so in its name too: the file outlives the page that explained it.
    const name = `letter-${letter.id.replace(/[^A-Za-z0-9._-]/g, '_')}${letter.truncated ? '.partial' : ''}.body`;
    logAction(ctx, c, 'download', { letter: letter.id, bytes: bytes.length });
    return c.body(new Uint8Array(bytes), 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': `attachment; filename="${name}"`,
    });
  });

  app.get('/letters/:id/:action', async (c) => {
    const action = c.req.param('action');
    if (!isAction(action)) return reject(c, base, 404, 'not_found', 'No such page.');
    if (action === 'replay' && replayBlocked())
      return reject(c, base, 409, 'replay_blocked', replayBlocked() as string);
    const letter = await deps.deadLetters.get(c.req.param('id'));
    if (letter === undefined) return letterNotFound(c);
    return c.html(
      <ConfirmPage
        {...pageOf(ctx, c)}
        action={action}
        letters={[letter]}
        postTo={`${base}/letters/bulk/${action}`}
        back={letterHref(base, letter.id)}
      />,
    );
  });

  const letterNotFound = (c: Context<InspectorEnv>) =>
    reject(c, base, 404, 'letter_not_found', 'No dead letter has that id (replayed or dropped already?).');

  async function act(c: Context<InspectorEnv>, action: Action, ids: string[]) {
    if (action === 'replay' && replayBlocked())
      return reject(c, base, 409, 'replay_blocked', replayBlocked() as string);
    const results: ActionResult[] = [];
    for (const id of ids) {
      const letter = await deps.deadLetters.get(id);
      if (letter === undefined) {
        results.push({ id, outcome: 'gone (replayed or dropped already)', ok: false });
        continue;
      }
      results.push(action === 'drop' ? await drop(letter) : await replay(letter));
    }
    const done = results.filter((result) => result.ok).length;
    logAction(ctx, c, action, { letters: ids.length, done, ids: ids.slice(0, 20) });
    return c.html(<ResultsPage {...pageOf(ctx, c)} action={action} results={results} />);
  }

  async function drop(letter: Letter): Promise<ActionResult> {
    const dropped = await deps.deadLetters.drop(letter.id);
    return { id: letter.id, outcome: dropped ? 'dropped' : 'gone already', ok: dropped };
  }

  async function replay(letter: Letter): Promise<ActionResult> {
    try {
      const outcome = await (deps.replay as NonNullable<typeof deps.replay>)(letter);
      if (!replayed(outcome))
        return {
          id: letter.id,
          outcome: `${outcome.status}: ${'detail' in outcome ? outcome.detail : ''}`,
          ok: false,
        };
      await deps.deadLetters.drop(letter.id);
      const detail =
        'changes' in outcome
          ? ` (${plural(outcome.changes, 'change')})`
          : 'messageId' in outcome
            ? ` (${outcome.messageId})`
            : '';
      return { id: letter.id, outcome: `${outcome.status}${detail}`, ok: true };
    } catch (error) {
      return { id: letter.id, outcome: `failed: ${(error as Error).message}`, ok: false };
    }
  }

  return app;
}
