/**
 * @module The live tail: the inspector's only script, inline with the page's CSP nonce. It opens
 * an EventSource, builds each new row with DOM calls (textContent, never HTML), and pauses by
 * closing the stream; resuming reopens it after the last row seen (the browser's own reconnects
 * send that id as Last-Event-ID).
 */
export const liveScript = `(() => {
  const root = document.getElementById('live');
  const body = document.getElementById('deliveries-body');
  const status = document.getElementById('live-status');
  const toggle = document.getElementById('live-toggle');
  if (!root || !body || !status || !toggle) return;
  let last = root.dataset.after || '';
  let source;
  const cell = (spec) => {
    const td = document.createElement('td');
    if (spec.className) td.className = spec.className;
    if (spec.href) {
      const link = document.createElement('a');
      link.href = spec.href;
      link.textContent = spec.text;
      td.append(link);
    } else td.textContent = spec.text;
    return td;
  };
  const add = (event) => {
    const row = JSON.parse(event.data);
    last = event.lastEventId || row.id;
    document.getElementById('no-deliveries')?.remove();
    const tr = document.createElement('tr');
    tr.className = 'fresh';
    tr.dataset.id = row.id;
    for (const spec of row.cells) tr.append(cell(spec));
    body.prepend(tr);
    while (body.rows.length > 500) body.deleteRow(-1);
  };
  const open = () => {
    const url = new URL(root.dataset.stream, location.href);
    if (last) url.searchParams.set('after', last);
    source = new EventSource(url);
    source.addEventListener('delivery', add);
    source.addEventListener('expired', () => {
      source.close();
      source = undefined;
      status.textContent = 'session expired: reload the page to log in again';
      toggle.hidden = true;
    });
    source.onopen = () => { status.textContent = 'live'; };
    source.onerror = () => { if (source) status.textContent = 'reconnecting…'; };
  };
  toggle.addEventListener('click', () => {
    if (source) {
      source.close();
      source = undefined;
      toggle.textContent = 'Resume';
      status.textContent = 'paused';
    } else {
      toggle.textContent = 'Pause';
      open();
    }
  });
  toggle.hidden = false;
  open();
})();`;
