// drec's dashboard: a hash-routed single page over the JSON API.
//
//   #/                      overview
//   #/repositories?prefix=  all repositories, filtered by name prefix, sortable, paged
//   #/r/{name}?days=&class=&attachments=include   one repository
//   #/cleanup?days=&at=&decision=   the retention plan (when drec has a policy), evaluated at
//                           a UTC day, its tags filtered by decision; and the repositories
//                           not pulled for that many days
//
// Every route takes registry=NAME. On the overview and the lists it chooses one registry
// (none: all of them, the API's default there); on a repository page it names the
// registry the repository belongs to (none: "default", as in the API). The registry
// selector shows only when drec serves more than one.
//
// Hash routing means drec serves one HTML document at "/" and nothing else needs
// server-side routes. Without stored credentials the page asks the API without any: a drec
// configured without credentials (anonymous, on loopback) answers and the page goes
// straight in; one that needs them answers 401, and any 401 brings up the sign-in form.
import {
  ApiError,
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
import { counterList, loadCounters } from './counters.js';
import {
  ageDays,
  card,
  errorBox,
  h,
  hashHref,
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

// ---------------------------------------------------------------------------- registries

// The registries drec serves, read once per page load (they come from its configuration).
let registriesLoading;
function loadRegistries() {
  registriesLoading ??= getJson('/api/v1/registries')
    .then((answer) => answer.registries.map((r) => r.registry))
    .catch((error) => {
      registriesLoading = undefined;
      if (error instanceof Unauthorized) throw error;
      return []; // an older drec: one registry, no selector
    });
  return registriesLoading;
}

// The selector in the top bar, and the registry the navigation links keep.
function showRegistries(route, registries) {
  const picker = document.getElementById('registry-picker');
  const select = document.getElementById('registry');
  picker.hidden = registries.length < 2;
  const scope = route.params.get('registry') ?? '';
  if (!picker.hidden) {
    const options = [['', 'All registries'], ...registries.map((r) => [r, r])];
    if (select.options.length !== options.length || [...select.options].some((o, i) => o.value !== options[i][0])) {
      select.replaceChildren(...options.map(([value, text]) => h('option', { value }, text)));
    }
    // A repository belongs to one registry: without the parameter, the default one.
    select.value = route.view === repositoryView ? scope || 'default' : scope;
  }
  for (const link of document.querySelectorAll('nav a')) {
    link.href = hashHref(link.dataset.path, { registry: scope });
  }
  document.querySelector('.brand').href = hashHref('/', { registry: scope });
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
    const [registries] = await Promise.all([loadRegistries(), loadCounters()]);
    if (mine !== generation) return;
    showRegistries(route, registries);
    // scope: the registry of the overview and the lists ('' for all); multi: show registries.
    const scope = route.params.get('registry') ?? '';
    content = await route.view({ ...route, scope, multi: registries.length > 1 });
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

// The Registry column of a list that spans several registries.
const registryColumn = ({ scope, multi }) =>
  multi && !scope ? { title: 'Registry', value: (r) => h('span', { class: 'registry' }, r.registry) } : null;

async function overviewView(ctx) {
  document.title = 'drec · overview';
  const registry = ctx.scope;
  const from = utcDay(29);
  const to = utcDay(0);
  const [summary, top, trending, recent, registries] = await settle([
    getJson('/api/v1/summary', { from, to, registry }),
    getJson(REPOSITORIES, { sort: '-numpulls', limit: 10, registry }),
    getJson(REPOSITORIES, { sort: '-window.numpulls', window: '30d', limit: 10, registry }),
    getJson(REPOSITORIES, { sort: '-lastpushed', limit: 10, registry }),
    ctx.multi && !registry ? getJson('/api/v1/registries') : null,
  ]);

  const sum = (days, name) => days.reduce((a, d) => a + (d[name] ?? 0), 0);
  const totals = panel(summary, (s) =>
    h(
      'div',
      { class: 'stats', id: 'totals' },
      stat('Repositories', num(s.totals.repositories), null, 'total-repositories'),
      counterList().map((c) =>
        stat(
          c.label,
          num(s.totals[c.name]),
          `${num(sum(s.days, c.name))} in the last 30 days`,
          `total-${c.name}`,
          c.description,
        ),
      ),
    ),
  );
  const chart = panel(summary, (s) => dailyChart('overview-chart', s.days, ['numpulls', 'numpushs']));

  const registriesTable =
    registries.value &&
    card(
      'Registries',
      table(
        [
          { title: 'Registry', value: (r) => h('a', { href: hashHref('/', { registry: r.registry }) }, r.registry) },
          { title: 'Repositories', value: (r) => num(r.repositories), numeric: true },
          ...counterList().map((c) => ({
            title: c.short,
            help: c.description,
            value: (r) => num(r[c.name]),
            numeric: true,
          })),
        ],
        registries.value.registries,
        { id: 'registries-table' },
      ),
    );
  const where = registryColumn(ctx);
  const topTable = panel(top, (page) =>
    table(
      [
        { title: 'Repository', value: (r) => repositoryLink(r) },
        where,
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
        { title: 'Repository', value: (r) => repositoryLink(r) },
        where,
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
        { title: 'Repository', value: (r) => repositoryLink(r) },
        where,
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
    h('div', { class: 'page-head' }, h('h1', {}, 'Overview'), scopeNote(ctx)),
    totals,
    registriesTable,
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

// Which registries a page of several counts, when there are several.
function scopeNote({ scope, multi }) {
  if (!multi) return null;
  return h('span', { class: 'muted', id: 'scope' }, scope ? `registry ${scope}` : 'all registries');
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

// The list's columns: a sortable one has a `key` the API sorts by.
function listColumns(ctx) {
  return [
    { key: 'repositoryname', title: 'Repository', value: (r) => repositoryLink(r) },
    registryColumn(ctx),
    ...counterList().map((c) => ({
      key: c.sortable ? c.name : null,
      title: c.short,
      help: c.description,
      value: (r) => num(r[c.name]),
      numeric: true,
    })),
    { key: 'lastpulled', title: 'Last pulled', value: (r) => time(r.lastpulled) },
    { key: 'lastpushed', title: 'Last pushed', value: (r) => time(r.lastpushed) },
  ];
}

async function repositoriesView(ctx) {
  const { params, scope: registry } = ctx;
  document.title = 'drec · repositories';
  const prefix = params.get('prefix') ?? '';
  const sort = params.get('sort') || 'repositoryname';
  const offset = Number(params.get('offset')) || 0;
  const search = document.getElementById('search');
  if (document.activeElement !== search) search.value = prefix;

  const page = await getJson(REPOSITORIES, { prefix, sort, offset, limit: PAGE_SIZE, registry });
  const here = (changes) => hashHref('/repositories', { prefix, sort, offset, registry, ...changes });
  // Column titles sort; a second click on the sorted column reverses it. Counters and
  // times start descending, names ascending.
  const columns = listColumns(ctx).map((c) => {
    if (!c?.key) return c;
    const active = sort.replace(/^-/, '') === c.key;
    const next = active
      ? sort.startsWith('-')
        ? c.key
        : `-${c.key}`
      : c.key === 'repositoryname'
        ? c.key
        : `-${c.key}`;
    const arrow = active ? (sort.startsWith('-') ? ' ↓' : ' ↑') : '';
    return {
      ...c,
      title: h(
        'a',
        { href: here({ sort: next, offset: 0 }), class: 'sort', dataset: { sort: c.key } },
        c.title + arrow,
      ),
    };
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
      scopeNote(ctx),
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

async function repositoryView(ctx) {
  const { name, params, multi } = ctx;
  document.title = `drec · ${name}`;
  const registry = params.get('registry') ?? ''; // '' is the default registry
  const days = RANGES.includes(Number(params.get('days'))) ? Number(params.get('days')) : 30;
  const cls = params.get('class') ?? '';
  const attachments = params.get('attachments') === 'include';
  const here = (changes) =>
    repositoryHref(name, { registry, days, class: cls, attachments: attachments ? 'include' : '', ...changes });
  const [repo, tags, actors, daily, classes] = await settle([
    getJson(repositoryPath(name), { registry }),
    getJson(repositoryPath(name, 'tags'), { registry, attachments: attachments ? 'include' : '' }),
    getJson(repositoryPath(name, 'actors'), { registry }),
    getJson(repositoryPath(name, 'daily'), { registry, from: utcDay(days - 1), to: utcDay(0), class: cls }),
    getJson(repositoryPath(name, 'classes'), { registry }),
  ]);
  if (repo.status === 'rejected') {
    return h('div', { class: 'page' }, h('div', { class: 'page-head' }, h('h1', {}, name)), errorBox(repo.reason));
  }
  const r = repo.value;

  const ranges = h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Range' },
    RANGES.map((d) =>
      h(
        'a',
        { href: here({ days: d }), class: d === days ? 'active' : null, 'aria-current': d === days ? 'true' : null },
        `${d} days`,
      ),
    ),
  );
  // The daily series of one traffic class, or of all.
  const classNames = classes.status === 'fulfilled' ? classes.value.classes.map((c) => c.class) : [];
  if (cls && !classNames.includes(cls)) classNames.push(cls);
  const classSelect = h(
    'select',
    {
      id: 'daily-class',
      onchange: (e) => {
        window.location.hash = here({ class: e.target.value });
      },
    },
    h('option', { value: '' }, 'All classes'),
    classNames.map((c) => h('option', { value: c, selected: c === cls }, c)),
  );
  const classFilter = h(
    'label',
    { class: 'select', for: 'daily-class' },
    h('span', { class: 'muted' }, 'Traffic class'),
    classSelect,
  );
  const chart = panel(daily, (d) =>
    dailyChart('repository-chart', d.days, ['numpulls', 'numpushs', 'numchecks'], {
      hidden: ['numchecks'],
      label: cls ? `Traffic class ${cls}. ` : '',
    }),
  );

  const classesTable = panel(classes, (c) => {
    const pulls = c.classes.reduce((a, x) => a + x.numpulls, 0);
    return table(
      [
        {
          title: 'Class',
          value: (x) =>
            h(
              'a',
              { href: here({ class: x.class }), class: 'class', title: `Per day: class ${x.class} only` },
              x.class,
            ),
        },
        ...counterList().map((k) => ({
          title: k.short,
          help: k.description,
          value: (x) => num(x[k.name]),
          numeric: true,
        })),
        {
          title: 'Share of pulls',
          value: (x) => {
            const share = pulls ? Math.round((100 * x.numpulls) / pulls) : 0;
            return h(
              'span',
              { class: 'share' },
              h('meter', { min: 0, max: 100, value: share, 'aria-hidden': 'true' }),
              ` ${share} %`,
            );
          },
          numeric: true,
        },
        { title: 'Last pulled', value: (x) => time(x.lastpulled) },
      ],
      [...c.classes].sort((a, b) => b.numpulls - a.numpulls || a.class.localeCompare(b.class)),
      { id: 'classes-table', empty: 'Nothing counted yet.' },
    );
  });

  const tagColumns = [
    {
      title: 'Tag',
      value: (x) => [
        h('span', { class: 'tag' }, x.tag),
        x.attachment
          ? [' ', h('span', { class: 'badge attachment', title: 'signature, SBOM or attestation' }, 'attachment')]
          : null,
      ],
    },
    { title: 'Digest', value: (x) => shortDigest(x.digest) },
    {
      title: 'Status',
      value: (x) =>
        x.deleted ? h('span', { class: 'badge deleted' }, 'deleted') : h('span', { class: 'badge live' }, 'live'),
    },
    { title: 'Pulls', value: (x) => num(x.numpulls), numeric: true },
    { title: 'Checks', value: (x) => num(x.numchecks), numeric: true },
    ...(attachments
      ? counterList('attachment').map((k) => ({
          title: k.short,
          help: k.description,
          value: (x) => num(x[k.name]),
          numeric: true,
        }))
      : []),
    { title: 'Last pulled', value: (x) => time(x.lastpulled) },
    { title: 'Last pushed', value: (x) => time(x.lastpushed) },
  ];
  const tagsTable = panel(tags, (t) =>
    table(
      tagColumns,
      // Image tags first; live before deleted, then the most pulled.
      [...t.tags].sort(
        (a, b) =>
          a.attachment - b.attachment || a.deleted - b.deleted || b.numpulls - a.numpulls || a.tag.localeCompare(b.tag),
      ),
      { id: 'tags-table', empty: attachments ? 'No tags seen.' : 'No image tags seen.' },
    ),
  );
  const attachmentToggle = h(
    'label',
    { class: 'toggle' },
    h('input', {
      type: 'checkbox',
      id: 'show-attachments',
      checked: attachments,
      onchange: (e) => {
        window.location.hash = here({ attachments: e.target.checked ? 'include' : '' });
      },
    }),
    ' Show signature & attachment tags',
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

  const stats = (group, id, ...extra) =>
    h(
      'div',
      { class: 'stats', id },
      counterList(group).map((c) => stat(c.label, num(r[c.name]), null, `repo-${c.name}`, c.description)),
      extra,
    );
  return h(
    'div',
    { class: 'page', id: 'repository', dataset: { repository: name, registry: r.registry } },
    h(
      'div',
      { class: 'page-head' },
      h('h1', { id: 'repository-name' }, name),
      multi ? h('span', { class: 'badge registry', id: 'repository-registry' }, `registry ${r.registry}`) : null,
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
      'section',
      { class: 'group', 'aria-labelledby': 'images-heading' },
      h('h2', { id: 'images-heading' }, 'Images'),
      stats('image', 'repository-counters', stat('Live tags', num(r.tags.length), null, 'repo-tags')),
    ),
    h(
      'section',
      { class: 'group', 'aria-labelledby': 'attachments-heading' },
      h('h2', { id: 'attachments-heading' }, 'Signatures & attachments'),
      stats('attachment', 'repository-attachments'),
    ),
    h(
      'section',
      { class: 'card' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { id: 'daily-heading' }, cls ? `Per day (UTC), class ${cls}` : 'Per day (UTC)'),
        h('div', { class: 'controls' }, classFilter, ranges),
      ),
      chart,
    ),
    card('Traffic classes — all time', classesTable),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', {}, 'Tags'), attachmentToggle), tagsTable),
    card('Actors', actorsTable),
  );
}

// ---------------------------------------------------------------------------- cleanup

// The retention plan (docs/retention.md) of the policy drec is configured with
// (retention.policy_file), evaluated now or at the start of the chosen UTC day.
const RETENTION_PLAN = '/api/v1/retention/plan';
const DECISIONS = ['delete', 'unknown', 'held', 'keep'];
// The decision filter: "not kept" (the default) is every decision but keep.
const DECISION_FILTERS = [['', 'not kept'], ['all', 'all'], ...DECISIONS.map((d) => [d, d])];
const MAX_PLAN_ROWS = 1000; // a table longer than that would only slow the page down

// The plan, or why there is none: {plan} | {missing} (404: no policy) | {error}.
async function loadPlan(at) {
  try {
    return { plan: await getJson(RETENTION_PLAN, { at: at ? `${at}T00:00:00Z` : null }) };
  } catch (error) {
    if (error instanceof Unauthorized) throw error;
    if (error instanceof ApiError && error.status === 404) return { missing: true };
    return { error };
  }
}

function decisionBadge(decision) {
  return h('span', { class: `badge decision-${decision}` }, decision);
}

function cappedNote(shown, total, id) {
  return total > shown ? h('p', { class: 'muted', id }, `The first ${num(shown)} of ${num(total)} are shown.`) : null;
}

function retentionPanel(result, { at, decision, here }) {
  if (result.missing) {
    return h(
      'p',
      { class: 'notice', id: 'retention-hint' },
      'No retention policy is configured: set retention.policy_file (--retention-policy-file, ',
      'DREC_RETENTION_POLICY_FILE) to a policy file to see its plan here; see docs/retention.md.',
    );
  }

  const input = h('input', {
    type: 'date',
    value: at ?? '',
    id: 'retention-at',
    'aria-label': 'Evaluate at (UTC day)',
  });
  const form = h(
    'form',
    { class: 'inline', id: 'retention-form' },
    h('label', { for: 'retention-at' }, 'Evaluate at'),
    input,
    h('button', { type: 'submit' }, 'Evaluate'),
    at ? h('a', { href: here({ at: null }), id: 'retention-now' }, 'now') : null,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    window.location.hash = here({ at: input.value || null });
  });
  const head = h('div', { class: 'card-head' }, h('h2', {}, 'Retention plan'), form);
  if (result.error) {
    return h(
      'section',
      { class: 'card', id: 'retention' },
      head,
      h('div', { id: 'retention-error' }, errorBox(result.error)),
    );
  }

  const plan = result.plan;
  const s = plan.summary;
  const meta = h(
    'p',
    { class: 'muted', id: 'retention-meta' },
    'Evaluated at ',
    time(plan.at),
    ` UTC for registry ${plan.registry}: `,
    plan.checked_against_registry
      ? h('span', { class: 'badge live', id: 'retention-checked' }, 'checked against the registry')
      : h(
          'span',
          { class: 'badge decision-unknown', id: 'retention-checked' },
          "drec's view only, not checked against the registry",
        ),
  );
  const summary = h(
    'div',
    { class: 'stats', id: 'retention-summary' },
    stat('Repositories', num(s.repositories), 'matched by a rule', 'retention-repositories'),
    stat('Tags', num(s.tags), null, 'retention-tags-total'),
    stat('Kept', num(s.kept), null, 'retention-kept'),
    stat('Unknown', num(s.unknown), 'kept: observed too briefly', 'retention-unknown'),
    stat('Held', num(s.held_by_limits), 'by a limit or a shared digest', 'retention-held'),
    stat('Tags deleted', num(s.delete_tags), null, 'retention-delete-tags'),
    stat('Manifests deleted', num(s.delete_manifests), null, 'retention-delete-manifests'),
  );

  const repoLink = (name) => h('a', { href: repositoryHref(name, { registry: plan.registry }), class: 'repo' }, name);
  const tagList = (tags) =>
    tags.length
      ? tags.map((t, i) => [i ? ', ' : null, h('span', { class: 'tag' }, t)])
      : h('span', { class: 'muted' }, 'untagged');
  const deletions = plan.deletions.slice(0, MAX_PLAN_ROWS);
  const deletionsTable = table(
    [
      { title: 'Repository', value: (d) => repoLink(d.repository) },
      { title: 'Digest', value: (d) => shortDigest(d.digest) },
      { title: 'Tags', value: (d) => tagList(d.tags), class: 'wrap' },
      { title: 'Rule', value: (d) => d.rule },
      { title: 'Reason', value: (d) => d.reason, class: 'wrap' },
    ],
    deletions,
    { id: 'retention-deletions', empty: 'Nothing to delete.' },
  );

  // Every tag, and every untagged manifest, whose decision the filter selects.
  const wanted = (d) => (decision === 'all' ? true : decision ? d === decision : d !== 'keep');
  const items = [];
  for (const repo of plan.repositories) {
    for (const t of repo.tags) if (wanted(t.decision)) items.push({ repository: repo.repository, ...t });
    for (const m of repo.manifests) {
      if (!m.tags.length && wanted(m.decision))
        items.push({ repository: repo.repository, tag: null, numpulls: null, ...m });
    }
  }
  const filter = h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Decision', id: 'retention-filter' },
    DECISION_FILTERS.map(([value, label]) =>
      h(
        'a',
        {
          href: here({ decision: value || null }),
          class: value === decision ? 'active' : null,
          'aria-current': value === decision ? 'true' : null,
          dataset: { decision: value || 'not-kept' },
        },
        label,
      ),
    ),
  );
  const tagsTable = table(
    [
      { title: 'Repository', value: (t) => repoLink(t.repository) },
      {
        title: 'Tag',
        value: (t) => (t.tag === null ? h('span', { class: 'muted' }, 'untagged') : h('span', { class: 'tag' }, t.tag)),
      },
      { title: 'Decision', value: (t) => decisionBadge(t.decision) },
      { title: 'Digest', value: (t) => shortDigest(t.digest) },
      { title: 'Last pulled', value: (t) => time(t.lastpulled) },
      { title: 'Last pushed', value: (t) => time(t.lastpushed) },
      { title: 'Pulls', value: (t) => num(t.numpulls), numeric: true },
      { title: 'Rule', value: (t) => t.rule || h('span', { class: 'muted' }, 'none') },
      { title: 'Reason', value: (t) => t.reason, class: 'wrap' },
    ],
    items.slice(0, MAX_PLAN_ROWS),
    { id: 'retention-tags', empty: 'No tag has that decision.' },
  );

  return h(
    'section',
    { class: 'card', id: 'retention' },
    head,
    meta,
    summary,
    h('h2', { class: 'section', id: 'retention-deletions-heading' }, `Deletions (${num(plan.deletions.length)})`),
    deletionsTable,
    cappedNote(deletions.length, plan.deletions.length, 'retention-deletions-capped'),
    h('div', { class: 'card-head section' }, h('h2', {}, 'Tags by decision'), filter),
    tagsTable,
    cappedNote(Math.min(items.length, MAX_PLAN_ROWS), items.length, 'retention-tags-capped'),
  );
}

async function cleanupView(ctx) {
  const { params, scope: registry } = ctx;
  document.title = 'drec · cleanup';
  const days = Math.max(1, Math.floor(Number(params.get('days')) || 90));
  const offset = Number(params.get('offset')) || 0;
  // at: a UTC day (the date input's YYYY-MM-DD); anything else is ignored.
  const at = /^\d{4}-\d{2}-\d{2}$/.test(params.get('at') ?? '') ? params.get('at') : null;
  const decision = DECISION_FILTERS.some(([v]) => v && v === params.get('decision')) ? params.get('decision') : '';
  const here = (changes) =>
    hashHref('/cleanup', {
      days: params.get('days'),
      offset: params.get('offset'),
      at,
      decision,
      registry,
      ...changes,
    });
  const [page, planResult] = await Promise.all([
    getJson(REPOSITORIES, {
      not_pulled_since: `${days}d`,
      sort: 'lastpulled', // never pulled first, then the longest idle
      offset,
      limit: PAGE_SIZE,
      registry,
    }),
    loadPlan(at),
  ]);

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
    window.location.hash = hashHref('/cleanup', { days: input.value, at, decision, registry });
  });

  const now = Date.now();
  return h(
    'div',
    { class: 'page', id: 'cleanup' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Cleanup'), scopeNote(ctx)),
    retentionPanel(planResult, { at, decision, here }),
    h('div', { class: 'page-head' }, h('h2', { class: 'page-sub' }, 'Repositories not pulled recently'), form),
    h(
      'p',
      { class: 'muted', id: 'cleanup-total' },
      `${num(page.total)} repositories not pulled in the last ${num(days)} days, or never pulled.`,
    ),
    card(
      null,
      table(
        [
          { title: 'Repository', value: (r) => repositoryLink(r) },
          registryColumn(ctx),
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
      pager(page.total, page.offset, page.limit, (o) =>
        hashHref('/cleanup', { days, offset: o, at, decision, registry }),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------- wiring

function goSearch(prefix, replace) {
  const target = hashHref('/repositories', { prefix, registry: currentRoute().params.get('registry') });
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
// Another registry: the same list (the repositories list from a repository page), first page.
document.getElementById('registry').addEventListener('change', (e) => {
  const route = currentRoute();
  const path =
    new Map([
      [overviewView, '/'],
      [cleanupView, '/cleanup'],
    ]).get(route.view) ?? '/repositories';
  const keep = route.view === repositoryView ? [] : ['prefix', 'sort', 'days'];
  window.location.hash = hashHref(path, {
    ...Object.fromEntries(keep.map((k) => [k, route.params.get(k)])),
    registry: e.target.value,
  });
});
window.addEventListener('hashchange', () => render({ scroll: true }));
render();
