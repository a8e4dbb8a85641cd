/** @module The confirm step every action takes: what will happen and to how many letters, then one POST. */
import type { Letter } from '../../core/dead-letters/dead-letters.ts';
import { letterHref } from '../delivery-row.ts';
import { formatCount, formatTime } from '../format.ts';
import { agree } from '../plural.ts';
import { Page } from './layout.tsx';
import { TableHead } from './table-head.tsx';

export type Action = 'replay' | 'drop';

export const actionWords: Record<Action, string> = {
  replay:
    'Replay: a failed batch goes back to the workers (applied again), a rejected body is parsed again and accepted if it now passes, a sink delivery is sent again with the current state. A letter that replays is removed; one that does not is kept.',
  drop: 'Drop: the letters are deleted for good.',
};

export interface ConfirmProps {
  base: string;
  loggedIn: boolean;
  action: Action;
  /** The letters the POST will touch (after the cap). */
  letters: Letter[];
  /** How many matched before the cap (bulk only). */
  matching?: number;
  cap?: number;
  /** Where the POST goes; its hidden fields name the letters. */
  postTo: string;
  back: string;
}

export function ConfirmPage(props: ConfirmProps) {
  const { base, action, letters } = props;
  const count = letters.length;
  const capped = props.matching !== undefined && props.matching > count;
  return (
    <Page
      title={`Confirm: ${action} ${count} letter${count === 1 ? '' : 's'}`}
      base={base}
      loggedIn={props.loggedIn}
    >
      <p id="confirm-summary">
        This will {action} <b>{formatCount(count)}</b> letter{count === 1 ? '' : 's'}
        {props.matching !== undefined
          ? ` (${formatCount(props.matching)} ${agree(props.matching, 'matches', 'match')} the filter`
          : ''}
        {capped
          ? `; at most ${formatCount(props.cap ?? count)} ${agree(props.cap ?? count, 'is', 'are')} taken at a time, newest first`
          : ''}
        {props.matching !== undefined ? ')' : ''}.
      </p>
      <p class="muted">{actionWords[action]}</p>
      {count === 0 ? (
        <p>
          Nothing to do. <a href={props.back}>Back</a>
        </p>
      ) : (
        <form method="post" action={props.postTo} class="actions" id="confirm-form">
          {letters.map((letter) => (
            <input type="hidden" name="id" value={letter.id} />
          ))}
          <button type="submit" class={action === 'drop' ? 'danger' : ''}>
            {action === 'replay' ? 'Replay' : 'Drop'} {formatCount(count)} letter{count === 1 ? '' : 's'}
          </button>
          <a href={props.back}>Cancel</a>
        </form>
      )}
      <table>
        <TableHead columns={['kept', 'kind', 'reason']} />
        <tbody>
          {letters.slice(0, 50).map((letter) => (
            <tr>
              <td>
                <a href={letterHref(base, letter.id)}>{formatTime(letter.createdAt)}</a>
              </td>
              <td>{letter.kind}</td>
              <td>{letter.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {count > 50 ? <p class="muted">…and {formatCount(count - 50)} more.</p> : null}
    </Page>
  );
}

export interface ActionResult {
  id: string;
  outcome: string;
  ok: boolean;
}

export function ResultsPage(props: {
  base: string;
  loggedIn: boolean;
  action: Action;
  results: ActionResult[];
}) {
  const done = props.results.filter((result) => result.ok).length;
  return (
    <Page
      title={`${props.action === 'replay' ? 'Replayed' : 'Dropped'} ${done} of ${props.results.length}`}
      base={props.base}
      loggedIn={props.loggedIn}
    >
      <table id="results">
        <TableHead columns={['letter', 'outcome']} />
        <tbody>
          {props.results.map((result) => (
            <tr>
              <td>{result.id}</td>
              <td class={result.ok ? 'outcome-accepted' : 'error'}>{result.outcome}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="actions">
        <a href={`${props.base}/dead-letters`}>Dead letters</a>
        <a href={`${props.base}/quarantine`}>Quarantine</a>
        <a href={`${props.base}/deliveries`}>Deliveries</a>
      </p>
    </Page>
  );
}
