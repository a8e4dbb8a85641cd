import { describe, expect, it } from 'vitest';
import { createInspectorHarness, textOf } from './harness.ts';

/** Reads server-sent events until `count` events of `type` arrived. */
async function readEvents(response: Response, count: number, type = 'delivery') {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: { event: string; id?: string; data: string }[] = [];
  while (events.filter((event) => event.event === type).length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: { event: string; id?: string; data: string } = { event: 'message', data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event.event = line.slice(7);
        else if (line.startsWith('id: ')) event.id = line.slice(4);
        else if (line.startsWith('data: ')) event.data += line.slice(6);
      }
      if (!block.startsWith(':')) events.push(event);
      end = buffer.indexOf('\n\n');
    }
  }
  await reader.cancel();
  return events;
}

const messageOf = (data: string) => (JSON.parse(data) as { cells: { text: string }[] }).cells[6]?.text;

describe('live tail', () => {
  it('sends only what arrives after the page was made, newest last, with ids', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'before-page' }));
    await h.deliveryLog.flush();
    const page = await textOf(await h.request('/inspect/deliveries', { cookie }));
    const after = /data-after="([^"]*)"/.exec(page)?.[1] ?? '';
    expect(after).not.toBe('');
    const stream = await h.request(`/inspect/deliveries/live?after=${after}`, { cookie });
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'live-1' }));
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'live-2' }));
    const events = await readEvents(stream, 2);
    expect(events.map((event) => messageOf(event.data))).toEqual(['live-1', 'live-2']);
    expect(events.every((event) => event.id !== undefined)).toBe(true);
  });

  it('resumes after Last-Event-ID on a reconnect, ahead of ?after', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    for (const id of ['a', 'b', 'c']) h.deliveryLog.recordReceipt(h.receipt({ messageId: id }));
    await h.deliveryLog.flush();
    const all = await h.deliveryLog.since(undefined, 10);
    const firstId = all[0]?.id ?? '';
    const stream = await h.request(`/inspect/deliveries/live?after=${all[2]?.id}`, {
      cookie,
      headers: { 'last-event-id': firstId },
    });
    const events = await readEvents(stream, 2);
    expect(events.map((event) => messageOf(event.data))).toEqual(['b', 'c']);
  });

  it("applies the page's filters to the stream", async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    const stream = await h.request('/inspect/deliveries/live?outcome=rejected', { cookie });
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'fine' }));
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'bad', outcome: 'rejected', status: 422 }));
    const events = await readEvents(stream, 1);
    expect(events.map((event) => messageOf(event.data))).toEqual(['bad']);
  });

  it('ends the stream with an `expired` event when the session ends', async () => {
    const h = createInspectorHarness({ sessionTtlMs: 1000 });
    const { cookie } = await h.login();
    const stream = await h.request('/inspect/deliveries/live', { cookie });
    h.advance(1000);
    const events = await readEvents(stream, 1, 'expired');
    expect(events.map((event) => event.event)).toEqual(['expired']);
  });

  it('needs a session like every page', async () => {
    const h = createInspectorHarness();
    const response = await h.request('/inspect/deliveries/live', {
      headers: { accept: 'text/event-stream' },
    });
    expect(response.status).toBe(401);
  });
});
