// Small DOM and formatting helpers.
//
// Every piece of data (repository, tag and actor names come from whoever can push to the
// registry) reaches the page as a text node or an attribute value, never as HTML:
// there is no innerHTML in the dashboard.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

const numberFormat = new Intl.NumberFormat('en-US');

export function num(n) {
  return n === null || n === undefined ? '–' : numberFormat.format(n);
}

// Times are shown in UTC, like the API and the per-day buckets, so that a number in a
// table and a bar in a chart never disagree about which day something happened.
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, 'never');
  return h('time', { datetime: iso, title: iso }, `${iso.slice(0, 10)} ${iso.slice(11, 16)}`);
}

export function ageDays(iso, now = Date.now()) {
  if (!iso) return null;
  return Math.floor((now - Date.parse(iso)) / 86_400_000);
}

// YYYY-MM-DD of the UTC day `daysAgo` days before today.
export function utcDay(daysAgo = 0) {
  return new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
}

export function shortDigest(digest) {
  if (!digest) return h('span', { class: 'muted' }, '–');
  const [algorithm, hex = ''] = digest.split(':');
  return h('code', { title: digest }, `${algorithm}:${hex.slice(0, 12)}`);
}

// A hash route with a query of the `params` that have a value.
export function hashHref(path, params = {}) {
  const query = new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ''),
  ).toString();
  return `#${path}${query ? `?${query}` : ''}`;
}

// Hash of a repository page; segments encoded as in the API path. Registry "default" is
// left out of the query: the API takes a repository without one to be the default's.
export function repositoryHref(name, { registry, ...params } = {}) {
  const path = `/r/${name.split('/').map(encodeURIComponent).join('/')}`;
  return hashHref(path, { registry: registry === 'default' ? null : registry, ...params });
}

// A link to the repository page of a list item (which names its registry).
export function repositoryLink(item) {
  return h(
    'a',
    { href: repositoryHref(item.repositoryname, { registry: item.registry }), class: 'repo' },
    item.repositoryname,
  );
}

// A table from column definitions: {title, value(row) -> node|string, numeric?, help?}
// (help: the header's tooltip; class: of the cells). Falsy entries of `columns` are left out.
export function table(allColumns, rows, { id, empty = 'Nothing to show.' } = {}) {
  const columns = allColumns.filter(Boolean);
  if (!rows.length) return h('p', { class: 'empty', id }, empty);
  return h(
    'table',
    { id },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((c) => h('th', { class: c.numeric ? 'num' : null, title: c.help || null }, c.title)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h(
          'tr',
          {},
          columns.map((c) =>
            h('td', { class: [c.numeric ? 'num' : null, c.class].filter(Boolean).join(' ') || null }, c.value(row)),
          ),
        ),
      ),
    ),
  );
}

export function card(title, ...body) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...body);
}

export function stat(label, value, note, id, help) {
  return h(
    'div',
    { class: 'stat', id, title: help || null },
    h('div', { class: 'stat-label' }, label),
    h('div', { class: 'stat-value' }, value),
    note ? h('div', { class: 'stat-note' }, note) : null,
  );
}

export function errorBox(error) {
  return h('div', { class: 'error', role: 'alert' }, error.message ?? String(error));
}
