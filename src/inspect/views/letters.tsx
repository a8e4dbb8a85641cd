/** @module Quarantine and dead letters: lists with filters, one letter, the by-filter form. */
import {
  keptBodySize,
  type Letter,
  type LetterKind,
  letterBytes,
} from '../../core/dead-letters/dead-letters.ts';
import { letterHref } from '../delivery-row.ts';
import { formatCount, formatTime } from '../format.ts';
import { type LetterFilter, letterCohorts } from '../letter-filter.ts';
import { agree, plural } from '../plural.ts';
import { Page, type Section } from './layout.tsx';
import { prettyJson } from './pretty-json.ts';
import { TableHead } from './table-head.tsx';
import { TimeRange } from './time-range.tsx';

export const kindLabels: Record<LetterKind, string> = {
  rejected: 'rejected body (quarantine)',
  failed: 'failed batch',
  sink: 'failed sink delivery',
};

/** A quarantined letter's reason, `invalid_payload: a.b: message; c: message`, as its issues. */
export function issuesOf(reason: string): { path: string; message: string }[] {
  const colon = reason.indexOf(': ');
  const rest = colon < 0 ? reason : reason.slice(colon + 2);
  return rest.split('; ').map((issue) => {
    const at = issue.indexOf(': ');
    return at < 0 ? { path: '', message: issue } : { path: issue.slice(0, at), message: issue.slice(at + 2) };
  });
}

export interface LettersProps {
  base: string;
  loggedIn: boolean;
  section: Extract<Section, 'quarantine' | 'dead-letters'>;
  kinds: readonly LetterKind[];
  filter: LetterFilter;
  letters: Letter[];
  /** How many match in all (the list shows the newest `letters.length`). */
  matching: number;
  replayBlocked: string | undefined;
}

export function LettersPage(props: LettersProps) {
  const { base, filter } = props;
  const path = props.section === 'quarantine' ? '/quarantine' : '/dead-letters';
  const title = props.section === 'quarantine' ? 'Quarantine' : 'Dead letters';
  return (
    <Page title={title} base={base} section={props.section} loggedIn={props.loggedIn}>
      <p class="muted">
        {props.section === 'quarantine'
          ? 'Bodies answered 400/422, kept byte for byte with the reason. Replaying one parses it again with the receiver as it is now.'
          : 'Batches the store refused on every attempt, and changes a sink would not take.'}
      </p>
      <form method="get" action={`${base}${path}`} class="filters" id="letter-filter">
        {props.kinds.length > 1 ? (
          <label>
            kind
            <select name="kind">
              <option value="">any</option>
              {props.kinds.map((kind) => (
                <option value={kind} selected={filter.kinds.length === 1 && filter.kinds[0] === kind}>
                  {kindLabels[kind]}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <label>
          cohort id
          <input name="cohort" value={filter.cohort ?? ''} />
        </label>
        <label>
          reason contains
          <input name="reason" value={filter.reason ?? ''} />
        </label>
        <TimeRange from={filter.from} to={filter.to} />
        {/* One group that never wraps inside: "Drop matching…" stays beside Filter and Replay. */}
        <span class="filter-actions">
          <button type="submit">Filter</button>
          {props.replayBlocked === undefined ? (
            <button type="submit" name="action" value="replay" formaction={`${base}/letters/bulk`}>
              Replay matching…
            </button>
          ) : null}
          <button type="submit" name="action" value="drop" formaction={`${base}/letters/bulk`} class="danger">
            Drop matching…
          </button>
        </span>
      </form>
      {props.replayBlocked !== undefined ? (
        <p class="notice">Replay is not possible here: {props.replayBlocked}</p>
      ) : null}
      <p>
        {plural(props.matching, 'letter')} {agree(props.matching, 'matches', 'match')}
        {props.matching > props.letters.length ? `; the newest ${props.letters.length} are shown` : ''}.
      </p>
      <table id="letters">
        <TableHead columns={['kept', 'kind', 'reason', 'cohort', 'message_id', '#bytes']} />
        <tbody>
          {props.letters.map((letter) => (
            <tr>
              <td>
                <a href={letterHref(base, letter.id)}>{formatTime(letter.createdAt)}</a>
              </td>
              <td>{letter.kind}</td>
              <td class="error">{letter.reason}</td>
              <td>{letterCohorts(letter).join(', ') || '—'}</td>
              <td>{letter.messageId ?? '—'}</td>
              <td class="num">
                {letter.truncated ? keptBodySize(letter) : formatCount(letterBytes(letter).length)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

export function LetterPage(props: {
  base: string;
  loggedIn: boolean;
  letter: Letter;
  replayBlocked: string | undefined;
}) {
  const { base, letter } = props;
  const bytes = letterBytes(letter);
  const text = bytes.toString('utf8');
  // A cut body is no valid JSON, so it stays as kept.
  const pretty = prettyJson(text);
  const section = letter.kind === 'rejected' ? 'quarantine' : 'dead-letters';
  return (
    <Page title={`Letter ${letter.id}`} base={base} section={section} loggedIn={props.loggedIn}>
      <dl id="letter">
        <dt>kind</dt>
        <dd>{kindLabels[letter.kind]}</dd>
        <dt>kept</dt>
        <dd>{formatTime(letter.createdAt)}</dd>
        <dt>message_id</dt>
        <dd>
          {letter.messageId === null ? (
            '—'
          ) : (
            <a href={`${base}/delivery?message_id=${encodeURIComponent(letter.messageId)}`}>
              {letter.messageId}
            </a>
          )}
        </dd>
        <dt>cohort</dt>
        <dd>{letterCohorts(letter).join(', ') || '—'}</dd>
        <dt>reason</dt>
        <dd class="error">{letter.reason}</dd>
        <dt>body</dt>
        <dd>
          {letter.truncated
            ? `${keptBodySize(letter)}: only these were kept, so the body cannot be replayed`
            : plural(bytes.length, 'byte')}
          {letter.encoding === 'base64' ? ', not UTF-8 (shown with replacement characters)' : ''} ·{' '}
          <a href={`${base}/letters/${encodeURIComponent(letter.id)}/body`} download>
            {letter.truncated ? 'download the bytes kept' : 'download the exact bytes'}
          </a>
        </dd>
      </dl>
      {letter.kind === 'rejected' ? (
        <>
          <h2>Issues</h2>
          <table id="issues">
            <TableHead columns={['path', 'problem']} />
            <tbody>
              {issuesOf(letter.reason).map((issue) => (
                <tr>
                  <td>
                    <code>{issue.path || '(the body)'}</code>
                  </td>
                  <td>{issue.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      <div class="actions">
        {props.replayBlocked === undefined ? (
          <a href={`${base}/letters/${encodeURIComponent(letter.id)}/replay`}>Replay…</a>
        ) : (
          <span class="muted">Replay is not possible here: {props.replayBlocked}</span>
        )}
        <a href={`${base}/letters/${encodeURIComponent(letter.id)}/drop`}>Drop…</a>
      </div>
      <h2>Body</h2>
      {pretty === undefined ? null : (
        <p class="muted">Indented for reading; the download has the exact bytes.</p>
      )}
      <pre id="body" class="body">
        {pretty ?? text}
      </pre>
    </Page>
  );
}
