// drec's dashboard: a hash-routed single page over the JSON API.
//
//   #/                      overview
//   #/repositories?prefix=  all repositories, filtered by name prefix, sortable, paged
//   #/r/{name}?days=        one repository
//   #/cleanup?days=         repositories not pulled for that many days
//
// Hash routing means drec serves one HTML document at "/" and nothing else needs
// server-side routes. Without stored credentials the page asks the API without any: a drec
// configured without credentials (anonymous, on loopback) answers and the page goes
// straight in; one that needs them answers 401, and any 401 brings up the sign-in form.
import {
  basicAuthorization,
  bearerAuthorization,
  forgetAuthorization,
  getJson,
  rememberAuthorization,
  repositoryPath,
  storedAuthorization,
  Unauthorized,
} from './api.js';
import { dailyChart, pruneCharts } from './charts.js';
import {
  ageDays,
  card,
  errorBox,
  h,
  num,
  repositoryHref,
  repositoryLink,
  shortDigest,
  stat,
  table,
  time,
  utcDay,
} from './dom.js';

const REPOSITORIES = '/api/v1/repositories';
const PAGE_SIZE = 50;
const main = document.getElementById('app');

// ---------------------------------------------------------------------------- routing

function currentRoute() {
  const raw = window.location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  if (path.startsWith('/r/')) {
    const name = path.slice(3).split('/').map(decodeURIComponent).join('/');
    return { view: repositoryView, nav: 'repositories', name, params };
  }
  if (path === '/repositories') return { view: repositoriesView, nav: 'repositories', params };
  if (path === '/cleanup') return { view: cleanupView, nav: 'cleanup', params };
  return { view: overviewView, nav: 'overview', params };
}

function hrefWith(path, params) {
  const query = new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ''),
  ).toString();
  return `#${path}${query ? `?${query}` : ''}`;
}

// Renders of older navigations that finish late are dropped.
let generation = 0;

async function render({ scroll = false } = {}) {
  const mine = ++generation;
  const signedIn = Boolean(storedAuthorization());
  document.getElementById('signout').hidden = !signedIn; // nothing to sign out of when anonymous
  const route = currentRoute();
  const search = document.getElementById('search');
  if (route.view !== repositoriesView && document.activeElement !== search) search.value = '';
  for (const link of document.querySelectorAll('nav a')) {
    link.classList.toggle('active', link.dataset.nav === route.nav);
  }
  main.setAttribute('aria-busy', 'true');
  let content;
  try {
    content = await route.view(route);
  } catch (error) {
    if (error instanceof Unauthorized) {
      if (mine !== generation) return;
      if (!signedIn) return showSignIn(); // drec needs credentials
      forgetAuthorization();
      return showSignIn('Your credentials were not accepted. Please sign in again.');
    }
    content = errorBox(error);
  }
  if (mine !== generation) return;
  // Only now: a drec that needs credentials shows the sign-in form without a flash of the page.
  document.body.classList.remove('signed-out');
  main.replaceChildren(content);
  pruneCharts();
  if (scroll) window.scrollTo(0, 0); // a new page starts at its top
  main.setAttribute('aria-busy', 'false');
}

// Runs the requests of a page together. Each panel shows its own error, but a 401
// anywhere means the credentials are wrong: that aborts the page.
async function settle(requests) {
  const results = await Promise.allSettled(requests);
  for (const r of results) if (r.status === 'rejected' && r.reason instanceof Unauthorized) throw r.reason;
  return results;
}

function panel(result, show) {
  return result.status === 'fulfilled' ? show(result.value) : errorBox(result.reason);
}

// ---------------------------------------------------------------------------- sign in

function showSignIn(message, kind = 'error') {
  generation++;
  document.body.classList.add('signed-out');
  document.title = 'drec · sign in';

  let mode = 'token';
  const error = h('div', { class: kind, role: 'alert', hidden: !message }, message ?? '');
  const token = h('input', { id: 'signin-token', type: 'password', autocomplete: 'off', required: true });
  const user = h('input', { id: 'signin-user', type: 'text', autocomplete: 'username' });
  const password = h('input', { id: 'signin-password', type: 'password', autocomplete: 'current-password' });
  const tokenFields = h('div', {}, h('label', { for: 'signin-token' }, 'Bearer token'), token);
  const basicFields = h(
    'div',
    { hidden: true },
    h('label', { for: 'signin-user' }, 'User'),
    user,
    h('label', { for: 'signin-password' }, 'Password'),
    password,
  );
  const tabs = ['token', 'basic'].map((m) =>
    h(
      'button',
      { type: 'button', class: m === mode ? 'tab active' : 'tab', id: `signin-mode-${m}`, onclick: () => choose(m) },
      m === 'token' ? 'Token' : 'User and password',
    ),
  );
  function choose(m) {
    mode = m;
    for (const t of tabs) t.classList.toggle('active', t.id === `signin-mode-${m}`);
    tokenFields.hidden = m !== 'token';
    basicFields.hidden = m !== 'basic';
    token.required = m === 'token';
    user.required = m === 'basic';
    (m === 'token' ? token : user).focus();
  }

  const submit = h('button', { type: 'submit', class: 'primary', id: 'signin-submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin', id: 'signin' },
    h('div', { class: 'brand-large' }, 'drec'),
    h('p', { class: 'muted' }, 'Registry statistics. Sign in with the credentials configured in drec.'),
    h('div', { class: 'tabs' }, tabs),
    tokenFields,
    basicFields,
    error,
    submit,
    h('p', { class: 'hint' }, 'Credentials stay in this browser tab only (session storage).'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const authorization =
      mode === 'token' ? bearerAuthorization(token.value) : basicAuthorization(user.value, password.value);
    submit.disabled = true;
    try {
      await getJson(REPOSITORIES, { limit: 1 }, authorization); // proves the credentials
      rememberAuthorization(authorization);
      render();
    } catch (e) {
      error.hidden = false;
      error.className = 'error';
      error.textContent = e instanceof Unauthorized ? 'Wrong credentials.' : e.message;
      submit.disabled = false;
    }
  });
  main.replaceChildren(form);
  pruneCharts();
  token.focus();
}

// ---------------------------------------------------------------------------- overview

async function overviewView() {
  document.title = 'drec · overview';
  const from = utcDay(29);
  const to = utcDay(0);
  const [summary, top, trending, recent] = await settle([
    getJson('/api/v1/summary', { from, to }),
    getJson(REPOSITORIES, { sort: '-numpulls', limit: 10 }),
    getJson(REPOSITORIES, { sort: '-window.numpulls', window: '30d', limit: 10 }),
    getJson(REPOSITORIES, { sort: '-lastpushed', limit: 10 }),
  ]);

  const sum = (days, counter) => days.reduce((a, d) => a + (d[counter] ?? 0), 0);
  const totals = panel(summary, (s) =>
    h(
      'div',
      { class: 'stats', id: 'totals' },
      stat('Repositories', num(s.totals.repositories), null, 'total-repositories'),
      stat('Pulls', num(s.totals.numpulls), `${num(sum(s.days, 'numpulls'))} in the last 30 days`, 'total-numpulls'),
      stat('Pushes', num(s.totals.numpushs), `${num(sum(s.days, 'numpushs'))} in the last 30 days`, 'total-numpushs'),
      stat(
        'Checks (HEAD)',
        num(s.totals.numchecks),
        `${num(sum(s.days, 'numchecks'))} in the last 30 days`,
        'total-numchecks',
      ),
      stat('Index pulls', num(s.totals.numindexpulls), null, 'total-numindexpulls'),
      stat('Deletes', num(s.totals.numdeletes), null, 'total-numdeletes'),
    ),
  );
  const chart = panel(summary, (s) => dailyChart('overview-chart', s.days, ['numpulls', 'numpushs']));

  const topTable = panel(top, (page) =>
    table(
      [
        { title: 'Repository', value: (r) => repositoryLink(r.repositoryname) },
        { title: 'Pulls', value: (r) => num(r.numpulls), numeric: true },
        { title: 'Last pulled', value: (r) => time(r.lastpulled) },
      ],
      page.repositories.filter((r) => r.numpulls > 0),
      { id: 'top-table', empty: 'No pulls yet.' },
    ),
  );
  const trendingTable = panel(trending, (page) =>
    table(
      [
        { title: 'Repository', value: (r) => repositoryLink(r.repositoryname) },
        { title: '30 days', value: (r) => num(r.window?.numpulls), numeric: true },
        { title: 'All time', value: (r) => num(r.numpulls), numeric: true },
      ],
      page.repositories.filter((r) => (r.window?.numpulls ?? 0) > 0),
      { id: 'trending-table', empty: 'No pulls in the last 30 days.' },
    ),
  );
  const recentTable = panel(recent, (page) =>
    table(
      [
        { title: 'Repository', value: (r) => repositoryLink(r.repositoryname) },
        { title: 'Last pushed', value: (r) => time(r.lastpushed) },
        { title: 'Pushes', value: (r) => num(r.numpushs), numeric: true },
      ],
      page.repositories.filter((r) => r.lastpushed),
      { id: 'recent-table', empty: 'Nothing pushed yet.' },
    ),
  );

  return h(
    'div',
    { class: 'page', id: 'overview' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Overview')),
    totals,
    card('Pulls and pushes per day — last 30 days (UTC)', chart),
    h(
      'div',
      { class: 'grid3' },
      card('Top repositories', topTable),
      card('Trending — pulls in the last 30 days', trendingTable),
      card('Recently pushed', recentTable),
    ),
  );
}

// ---------------------------------------------------------------------------- lists

function pager(total, offset, limit, hrefFor) {
  if (total <= limit) return null;
  const last = Math.min(offset + limit, total);
  return h(
    'div',
    { class: 'pager' },
    offset > 0 ? h('a', { href: hrefFor(Math.max(0, offset - limit)) }, '← Previous') : h('span'),
    h('span', { class: 'muted' }, `${num(offset + 1)}–${num(last)} of ${num(total)}`),
    last < total ? h('a', { href: hrefFor(offset + limit) }, 'Next →') : h('span'),
  );
}

const LIST_COLUMNS = [
  { key: 'repositoryname', title: 'Repository', value: (r) => repositoryLink(r.repositoryname) },
  { key: 'numpulls', title: 'Pulls', value: (r) => num(r.numpulls), numeric: true },
  { key: 'numpushs', title: 'Pushes', value: (r) => num(r.numpushs), numeric: true },
  { key: 'numchecks', title: 'Checks', value: (r) => num(r.numchecks), numeric: true },
  { key: 'numindexpulls', title: 'Index pulls', value: (r) => num(r.numindexpulls), numeric: true },
  { key: 'lastpulled', title: 'Last pulled', value: (r) => time(r.lastpulled) },
  { key: 'lastpushed', title: 'Last pushed', value: (r) => time(r.lastpushed) },
];

async function repositoriesView({ params }) {
  document.title = 'drec · repositories';
  const prefix = params.get('prefix') ?? '';
  const sort = params.get('sort') || 'repositoryname';
  const offset = Number(params.get('offset')) || 0;
  const search = document.getElementById('search');
  if (document.activeElement !== search) search.value = prefix;

  const page = await getJson(REPOSITORIES, { prefix, sort, offset, limit: PAGE_SIZE });
  const here = (changes) => hrefWith('/repositories', { prefix, sort, offset, ...changes });
  // Column titles sort; a second click on the sorted column reverses it. Counters and
  // times start descending, names ascending.
  const columns = LIST_COLUMNS.map((c) => {
    if (!c.key) return c;
    const active = sort.replace(/^-/, '') === c.key;
    const next = active
      ? sort.startsWith('-')
        ? c.key
        : `-${c.key}`
      : c.key === 'repositoryname'
        ? c.key
        : `-${c.key}`;
    const arrow = active ? (sort.startsWith('-') ? ' ↓' : ' ↑') : '';
    return { ...c, title: h('a', { href: here({ sort: next, offset: 0 }), class: 'sort' }, c.title + arrow) };
  });
  const what = prefix ? `${num(page.total)} repositories starting with “${prefix}”` : `${num(page.total)} repositories`;
  return h(
    'div',
    { class: 'page', id: 'repositories' },
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Repositories'),
      h('span', { class: 'muted', id: 'repositories-total' }, what),
    ),
    card(
      null,
      table(columns, page.repositories, { id: 'repositories-table', empty: 'No repository matches.' }),
      pager(page.total, page.offset, page.limit, (o) => here({ offset: o })),
    ),
  );
}

// ---------------------------------------------------------------------------- one repository

const RANGES = [30, 90, 365];

async function repositoryView({ name, params }) {
  document.title = `drec · ${name}`;
  const days = RANGES.includes(Number(params.get('days'))) ? Number(params.get('days')) : 30;
  const [repo, tags, actors, daily] = await settle([
    getJson(repositoryPath(name)),
    getJson(repositoryPath(name, 'tags')),
    getJson(repositoryPath(name, 'actors')),
    getJson(repositoryPath(name, 'daily'), { from: utcDay(days - 1), to: utcDay(0) }),
  ]);
  if (repo.status === 'rejected') {
    return h('div', { class: 'page' }, h('div', { class: 'page-head' }, h('h1', {}, name)), errorBox(repo.reason));
  }
  const r = repo.value;

  const ranges = h(
    'div',
    { class: 'segmented' },
    RANGES.map((d) =>
      h('a', { href: `${repositoryHref(name)}?days=${d}`, class: d === days ? 'active' : null }, `${d} days`),
    ),
  );
  const chart = panel(daily, (d) =>
    dailyChart('repository-chart', d.days, ['numpulls', 'numpushs', 'numchecks'], { hidden: ['numchecks'] }),
  );

  const tagsTable = panel(tags, (t) =>
    table(
      [
        { title: 'Tag', value: (x) => h('span', { class: 'tag' }, x.tag) },
        { title: 'Digest', value: (x) => shortDigest(x.digest) },
        {
          title: 'Status',
          value: (x) =>
            x.deleted ? h('span', { class: 'badge deleted' }, 'deleted') : h('span', { class: 'badge live' }, 'live'),
        },
        { title: 'Pulls', value: (x) => num(x.numpulls), numeric: true },
        { title: 'Checks', value: (x) => num(x.numchecks), numeric: true },
        { title: 'Last pulled', value: (x) => time(x.lastpulled) },
        { title: 'Last pushed', value: (x) => time(x.lastpushed) },
      ],
      // Live tags first, then the most pulled.
      [...t.tags].sort((a, b) => a.deleted - b.deleted || b.numpulls - a.numpulls || a.tag.localeCompare(b.tag)),
      { id: 'tags-table', empty: 'No tags seen.' },
    ),
  );
  const actorsTable = panel(actors, (a) =>
    table(
      [
        { title: 'Actor', value: (x) => x.actor },
        { title: 'Pulls', value: (x) => num(x.numpulls), numeric: true },
        { title: 'Pushes', value: (x) => num(x.numpushs), numeric: true },
        { title: 'First seen', value: (x) => time(x.firstseen) },
        { title: 'Last seen', value: (x) => time(x.lastseen) },
      ],
      [...a.actors].sort(
        (x, y) => y.numpulls + y.numpushs - (x.numpulls + x.numpushs) || x.actor.localeCompare(y.actor),
      ),
      { id: 'actors-table', empty: 'No named actors (anonymous access only).' },
    ),
  );

  return h(
    'div',
    { class: 'page', id: 'repository', dataset: { repository: name } },
    h(
      'div',
      { class: 'page-head' },
      h('h1', { id: 'repository-name' }, name),
      h(
        'span',
        { class: 'muted' },
        'first pushed ',
        time(r.firstpushed),
        ' · last pushed ',
        time(r.lastpushed),
        ' · last pulled ',
        time(r.lastpulled),
      ),
    ),
    h(
      'div',
      { class: 'stats', id: 'repository-counters' },
      stat('Pulls', num(r.numpulls), null, 'repo-numpulls'),
      stat('Pushes', num(r.numpushs), null, 'repo-numpushs'),
      stat('Checks (HEAD)', num(r.numchecks), null, 'repo-numchecks'),
      stat('Index pulls', num(r.numindexpulls), null, 'repo-numindexpulls'),
      stat('Deletes', num(r.numdeletes), null, 'repo-numdeletes'),
      stat('Live tags', num(r.tags.length), null, 'repo-tags'),
    ),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', {}, 'Per day (UTC)'), ranges), chart),
    card('Tags', tagsTable),
    card('Actors', actorsTable),
  );
}

// ---------------------------------------------------------------------------- cleanup

async function cleanupView({ params }) {
  document.title = 'drec · cleanup';
  const days = Math.max(1, Math.floor(Number(params.get('days')) || 90));
  const offset = Number(params.get('offset')) || 0;
  const page = await getJson(REPOSITORIES, {
    not_pulled_since: `${days}d`,
    sort: 'lastpulled', // never pulled first, then the longest idle
    offset,
    limit: PAGE_SIZE,
  });

  const input = h('input', { type: 'number', min: 1, value: days, id: 'cleanup-days', class: 'days' });
  const form = h(
    'form',
    { class: 'inline', id: 'cleanup-form' },
    h('label', { for: 'cleanup-days' }, 'Not pulled for'),
    input,
    h('span', {}, 'days'),
    h('button', { type: 'submit' }, 'Show'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    window.location.hash = hrefWith('/cleanup', { days: input.value });
  });

  const now = Date.now();
  return h(
    'div',
    { class: 'page', id: 'cleanup' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Cleanup candidates'), form),
    h(
      'p',
      { class: 'muted', id: 'cleanup-total' },
      `${num(page.total)} repositories not pulled in the last ${num(days)} days, or never pulled.`,
    ),
    card(
      null,
      table(
        [
          { title: 'Repository', value: (r) => repositoryLink(r.repositoryname) },
          { title: 'Last pulled', value: (r) => time(r.lastpulled) },
          {
            title: 'Idle',
            value: (r) =>
              r.lastpulled
                ? `${num(ageDays(r.lastpulled, now))} days`
                : h('span', { class: 'badge deleted' }, 'never pulled'),
          },
          { title: 'Last pushed', value: (r) => time(r.lastpushed) },
          { title: 'Pulls', value: (r) => num(r.numpulls), numeric: true },
          { title: 'Pushes', value: (r) => num(r.numpushs), numeric: true },
        ],
        page.repositories,
        { id: 'cleanup-table', empty: 'Every repository was pulled recently.' },
      ),
      pager(page.total, page.offset, page.limit, (o) => hrefWith('/cleanup', { days, offset: o })),
    ),
  );
}

// ---------------------------------------------------------------------------- wiring

function goSearch(prefix, replace) {
  const target = hrefWith('/repositories', { prefix });
  // While typing, the history gets one entry, not one per key.
  if (replace) window.location.replace(target);
  else window.location.hash = target;
}

let typing;
const search = document.getElementById('search');
search.addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(() => goSearch(search.value, currentRoute().view === repositoriesView), 250);
});
document.getElementById('search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  clearTimeout(typing);
  goSearch(search.value, currentRoute().view === repositoriesView);
});
document.getElementById('signout').addEventListener('click', () => {
  forgetAuthorization();
  showSignIn('Signed out.', 'notice');
});
window.addEventListener('hashchange', () => render({ scroll: true }));
render();
