/**
 * @module A cohort's members as one download, CSV (RFC 4180) or NDJSON, in `user_id` order, for
 * cohorts of any size: read from the store a page at a time, and only as fast as the client takes
 * the bytes, so a 10M-member cohort costs the memory of a page, not of the cohort. Served by the
 * read API (`read-api.ts`) and by the inspector (its operators log in with a cookie, not the secret).
 */
import type { Logger } from 'pino';
import { errorText } from '../error-text.ts';
import type { Member, MembershipStore } from '../store/store.ts';

export type ExportFormat = 'csv' | 'ndjson';

/**
 * Members read per page: a few thousand keeps the store's round trips few and a page's memory
 * small (about 1 MB with properties). A Redis page is one Lua script, which blocks Redis while it
 * runs: a larger page would hold every other client for longer.
 */
export const exportPageSize = 2000;

export const exportContentTypes: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson',
};

export interface MemberExportOptions {
  /** Hears why a download ended early (the store failed mid-stream, the client left). */
  logger?: Pick<Logger, 'info' | 'warn'> | undefined;
  /** @default exportPageSize */
  pageSize?: number | undefined;
  /**
   * Cuts the connection (`c.env.outgoing.destroy()` when served by @hono/node-server) and says
   * whether there was one to cut. Called when the store fails mid-stream: the status and the first
   * bytes are gone, so the only way to tell the client the file is incomplete is a download that
   * fails (no last chunk). See {@link responseCutter}.
   */
  abortResponse?: (() => boolean) | undefined;
}

export interface MemberExport {
  /** The file, pulled page by page (see {@link exportMembers}). */
  body: ReadableStream<Uint8Array>;
  /** Content-Type and Content-Disposition. */
  headers: Record<string, string>;
}

/**
 * Reads the first page now, so a store that cannot answer fails the request before any byte is
 * sent (the caller's error handler answers it, e.g. 503 `backend_unavailable`), and returns the
 * rest as a pull stream.
 *
 * Why a pull stream (`highWaterMark: 0`) and not Hono's `stream()` helper: @hono/node-server reads
 * the next chunk only once the socket took the previous one (`write()` true, or after `drain`), and
 * a pull stream with no queue reads the next page only when that read comes. So a slow client
 * holds the reading back instead of the pages piling up in memory; one that leaves cancels the
 * stream, and no page is read after that. Hono's helper closes its stream normally when the
 * callback throws: a store failure mid-way would end as a short file that looks complete.
 */
export async function exportMembers(
  store: Pick<MembershipStore, 'listMembers'>,
  cohortId: string,
  format: ExportFormat,
  options: MemberExportOptions = {},
): Promise<MemberExport> {
  const limit = options.pageSize ?? exportPageSize;
  const first = await store.listMembers(cohortId, { limit });
  const encodeRows = format === 'csv' ? csvRows : ndjsonRows;
  const encoder = new TextEncoder();
  let cursor = first.nextCursor;
  let pending: Member[] | null = first.members;
  let header = format === 'csv' ? csvHeader : '';
  let rows = 0;
  let pages = 1;
  let done = false;

  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          let text = header;
          header = '';
          // Loops only past an empty page, which no store sends, but which must not leave the read waiting.
          for (;;) {
            if (pending === null) {
              // Only here, when the client has taken the previous page, is the next one read.
              const page = await store.listMembers(cohortId, { limit, cursor: cursor ?? undefined });
              // The client left while the page was read: drop it.
              if (done) return;
              pages += 1;
              cursor = page.nextCursor;
              pending = page.members;
            }
            text += encodeRows(pending);
            rows += pending.length;
            pending = null;
            if (text !== '' || cursor === null) break;
          }
          if (text !== '') controller.enqueue(encoder.encode(text));
          if (cursor === null) {
            done = true;
            controller.close();
          }
        } catch (error) {
          // The client left while the page was read: nobody to tell.
          if (done) return;
          done = true;
          options.logger?.warn(
            { cohort_id: cohortId, format, rows, pages, err: errorText(error) },
            'member export aborted: the store failed mid-stream',
          );
          // Cut, the connection ends without its last chunk: the client sees the download fail, and
          // the stream can end quietly (erroring it too would have @hono/node-server print the
          // error, stack and all, on stderr). Without a connection (in-process), the error tells.
          if (options.abortResponse?.()) controller.close();
          else controller.error(error);
        }
      },
      cancel() {
        if (done) return;
        done = true;
        options.logger?.info(
          { cohort_id: cohortId, format, rows, pages },
          'member export stopped: the client left',
        );
      },
    },
    { highWaterMark: 0 },
  );
  return {
    body,
    headers: {
      'content-type': exportContentTypes[format],
      'content-disposition': contentDisposition(`cohort-${cohortId}-members.${format}`),
    },
  };
}

/**
 * The `abortResponse` of a request served by @hono/node-server: destroys its Node response (and
 * socket); false in-process (`app.request()`), where there is none.
 */
export function responseCutter(env: { outgoing?: { destroy(): unknown } | undefined } | undefined) {
  return (): boolean => {
    const outgoing = env?.outgoing;
    if (outgoing === undefined) return false;
    outgoing.destroy();
    return true;
  };
}

const csvHeader = 'user_id,since,user_properties\r\n';

/** Quoted only when it must be (RFC 4180 section 2): holding a comma, a quote, CR or LF. */
const mustQuote = /[",\r\n]/;

/** One CSV field: as is, or in double quotes with its quotes doubled. */
export function csvField(text: string): string {
  return mustQuote.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV records, CRLF after each (RFC 4180); `user_properties` is the JSON text, empty for none. */
function csvRows(members: readonly Member[]): string {
  let text = '';
  for (const { userId, since, properties } of members) {
    const json = properties === null ? '' : csvField(JSON.stringify(properties));
    text += `${csvField(userId)},${since},${json}\r\n`;
  }
  return text;
}

/** One JSON object a line; JSON.stringify escapes CR and LF, so a record never spans lines. */
function ndjsonRows(members: readonly Member[]): string {
  let text = '';
  for (const { userId, since, properties } of members) {
    text += `${JSON.stringify({ user_id: userId, since, user_properties: properties })}\n`;
  }
  return text;
}

/**
 * `attachment` with the file name (RFC 6266). The quoted `filename` takes printable ASCII only:
 * anything else, and `"`, `\` and `%` (which some browsers decode), become `_`; path separators
 * and control characters become `_` everywhere. When that changed the name, `filename*` (RFC 5987,
 * UTF-8, percent-encoded) carries it whole, and browsers prefer it.
 */
export function contentDisposition(fileName: string): string {
  const name = fileName.replace(/[\p{Cc}/\\]/gu, '_');
  const ascii = name.replace(/[^\u0020-\u007e]|["%]/gu, '_');
  const quoted = `attachment; filename="${ascii}"`;
  return ascii === fileName ? quoted : `${quoted}; filename*=UTF-8''${rfc5987(name)}`;
}

/** RFC 5987's attr-char stay; every other UTF-8 byte is %XX (a lone surrogate as U+FFFD). */
function rfc5987(text: string): string {
  let encoded = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    encoded += /[A-Za-z0-9!#$&+.^_`|~-]/.test(char)
      ? char
      : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}
