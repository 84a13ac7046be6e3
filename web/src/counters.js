// The counters every record of the API carries, in one place.
//
// Which counters there are, what each means and which the repository list can sort by come
// from drec itself, `GET /api/v1/openapi.json` (CounterFields and the sort parameter): a
// counter drec adds shows up in the list, the overview and the repository page without a
// change here. This table only gives the known ones their words and colours, their order
// and their group (images apart from signatures & attachments, docs/counting.md#attachments).
import { getJson, Unauthorized } from './api.js';

const KNOWN = {
  numpulls: { label: 'Pulls', color: '#2563eb', group: 'image' },
  numpushs: { label: 'Pushes', color: '#16a34a', group: 'image' },
  numchecks: { label: 'Checks (HEAD)', short: 'Checks', color: '#94a3b8', group: 'image' },
  numindexpulls: { label: 'Index pulls', color: '#a855f7', group: 'image' },
  numdeletes: { label: 'Deletes', color: '#dc2626', group: 'image' },
  numattachmentpushes: { label: 'Attachment pushes', short: 'Att. pushes', color: '#f59e0b', group: 'attachment' },
  numattachmentpulls: { label: 'Attachment pulls', short: 'Att. pulls', color: '#0d9488', group: 'attachment' },
};
const FALLBACK_COLORS = ['#64748b', '#db2777', '#65a30d', '#0891b2'];

// name -> {name, label, short, color, group, description, sortable}
let counters = new Map(Object.entries(KNOWN).map(([name, c]) => [name, withDefaults(name, c, 0)]));

function withDefaults(name, c, i, description = '', sortable = true) {
  return {
    name,
    label: c.label ?? name,
    short: c.short ?? c.label ?? name,
    color: c.color ?? FALLBACK_COLORS[i % FALLBACK_COLORS.length],
    group: c.group ?? 'image',
    description,
    sortable,
  };
}

let loading;

// Reads the counters from drec's OpenAPI document, once per page load. Without it (an older
// drec, an error) the table above stands; the pages still work.
export function loadCounters() {
  loading ??= getJson('/api/v1/openapi.json')
    .then((doc) => {
      const fields = doc?.components?.schemas?.CounterFields?.properties;
      if (!fields) return;
      const sorts = doc.components.parameters?.sort?.schema?.enum;
      const names = [...Object.keys(KNOWN).filter((n) => n in fields), ...Object.keys(fields).filter((n) => !KNOWN[n])];
      counters = new Map(
        names.map((name, i) => [
          name,
          withDefaults(
            name,
            KNOWN[name] ?? {},
            i,
            fields[name].description ?? '',
            !sorts || sorts.includes(`-${name}`),
          ),
        ]),
      );
    })
    .catch((error) => {
      loading = undefined; // asked again on the next page
      if (error instanceof Unauthorized) throw error; // the page asks for credentials
    });
  return loading;
}

export function counterList(group) {
  const all = [...counters.values()];
  return group ? all.filter((c) => c.group === group) : all;
}

export function counter(name) {
  return counters.get(name) ?? withDefaults(name, {}, 0);
}
