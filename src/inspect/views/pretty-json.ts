/**
 * @module A kept body laid out as indented JSON for reading. Only the whitespace between tokens
 * changes: the tokens are copied as they were sent (JSON.parse then stringify would round big
 * numbers and merge duplicate keys), so what the page shows is what arrived.
 */

/** The body indented by `indent` spaces when it is valid JSON; otherwise undefined. */
export function prettyJson(text: string, indent = 2): string | undefined {
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  let out = '';
  let depth = 0;
  const newline = () => `\n${' '.repeat(depth * indent)}`;
  for (let at = 0; at < text.length; at += 1) {
    const char = text[at] as string;
    if (char === '"') {
      // Copy the whole string, escapes included.
      let end = at + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      out += text.slice(at, end + 1);
      at = end;
    } else if (char === '{' || char === '[') {
      const close = char === '{' ? '}' : ']';
      const next = nextToken(text, at + 1);
      if (text[next] === close) {
        // An empty object or array stays on one line.
        out += `${char}${close}`;
        at = next;
      } else {
        depth += 1;
        out += char + newline();
      }
    } else if (char === '}' || char === ']') {
      depth -= 1;
      out += newline() + char;
    } else if (char === ',') {
      out += `,${newline()}`;
    } else if (char === ':') {
      out += ': ';
    } else if (char !== ' ' && char !== '\t' && char !== '\n' && char !== '\r') {
      out += char;
    }
  }
  return out;
}

/** The index of the next character that is not JSON whitespace. */
function nextToken(text: string, from: number): number {
  let at = from;
  while (at < text.length && ' \t\n\r'.includes(text[at] as string)) at += 1;
  return at;
}
