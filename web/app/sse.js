// An incremental parser for text/event-stream bodies (the WHATWG rules the
// chat endpoint's stream follows): feed it decoded text as it arrives and
// it returns the complete events so far. Lines end in \n, \r\n or \r;
// blank lines end events; ":" lines are comments (keep-alives) and are
// skipped; several data lines join with \n; a block with no data is no
// event.
//
// SPDX-License-Identifier: MIT

export class SseParser {
  constructor() {
    this.buf = '';
    this.data = null;
    this.event = '';
  }

  // Returns [{event, data}] for every event completed by `text`.
  push(text) {
    this.buf += text;
    const out = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!m || (m[0] === '\r' && m.index === this.buf.length - 1)) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line, out);
    }
    return out;
  }

  // The stream ended: an event that lacks its blank line is dropped, as the
  // standard says.
  end() {
    this.buf = '';
    this.data = null;
    this.event = '';
  }

  line(line, out) {
    if (line === '') {
      if (this.data !== null) out.push({ event: this.event || 'message', data: this.data });
      this.data = null;
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data = this.data === null ? value : `${this.data}\n${value}`;
    else if (field === 'event') this.event = value;
  }
}
