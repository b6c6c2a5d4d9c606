// Country → state → time zone pickers fed by /geo/*. Picking a country
// lists its states and zones and infers the zone (the country's only zone,
// the one covering "most of" it, or the one whose description names the
// picked state); the zone stays overridable, and an override sticks until
// the country changes.
import { get } from './api.js';
import { el, clear, field } from './ui.js';

let countriesCache = null;
async function countries() {
  if (!countriesCache) countriesCache = await get('/geo/countries');
  return countriesCache;
}

let allZones = null;
const perCountry = new Map();
/** A country's states and zones, asked once per page load. */
async function countryDetails(code) {
  if (!perCountry.has(code)) {
    perCountry.set(code, Promise.all([
      get('/geo/countries/' + encodeURIComponent(code) + '/subdivisions'),
      get('/geo/countries/' + encodeURIComponent(code) + '/timezones'),
    ]).then(([states, zones]) => ({ states, zones })));
  }
  return perCountry.get(code);
}

/** The zone to suggest for `state` in a country with `zones`. */
function zoneFor(country, stateCode, states, zones) {
  const st = states.find((s) => s.code === stateCode);
  if (st) {
    const name = st.name.toLowerCase();
    const named = zones.find((z) => z.comment.toLowerCase().includes(name));
    if (named) return named.name;
  }
  return country ? country.default_timezone || (zones.length === 1 ? zones[0].name : '') : '';
}

/**
 * The three pickers, filled from `initial` ({country, state, timezone}).
 * `prefix` names the inputs' ids (`${prefix}-country`, …).
 * Resolves to { node, value(), ready } where `value()` is the picked codes
 * ('' for none).
 */
export async function geoPickers(prefix, initial = {}) {
  const list = await countries();
  const country = el('select', { id: prefix + '-country' },
    el('option', { value: '', text: 'No country' }),
    list.map((c) => el('option', { value: c.code, text: c.name + ' (' + c.code + ')' })));
  const state = el('select', { id: prefix + '-state', disabled: true }, el('option', { value: '', text: 'No state' }));
  const timezone = el('select', { id: prefix + '-timezone' });
  const hint = el('span', { class: 'muted small', id: prefix + '-timezone-hint', 'aria-live': 'polite' });
  let states = [];
  let zones = [];
  // Whether the person picked the zone themselves (then it is not re-inferred).
  let chosen = false;

  const fillZones = async (selected) => {
    clear(timezone);
    timezone.append(el('option', { value: '', text: 'No time zone' }));
    const known = new Set(zones.map((z) => z.name));
    for (const z of zones) timezone.append(el('option', { value: z.name, text: z.name + (z.comment ? ' — ' + z.comment : '') }));
    if (selected && !known.has(selected)) timezone.append(el('option', { value: selected, text: selected }));
    // Any other zone, for the lead that is not where its country says.
    if (!allZones) allZones = get('/geo/timezones');
    const all = await allZones;
    const others = el('optgroup', { label: 'Other zones' }, all.filter((n) => !known.has(n) && n !== selected).map((n) => el('option', { value: n, text: n })));
    timezone.append(others);
    timezone.value = selected || '';
  };
  const infer = () => {
    const c = list.find((x) => x.code === country.value);
    const z = zoneFor(c, state.value, states, zones);
    timezone.value = z;
    if (z) hint.textContent = 'Inferred from the ' + (state.value && z !== (c && c.default_timezone) ? 'state' : 'country') + '; pick another to override.';
    else hint.textContent = zones.length > 1 ? 'This country has ' + zones.length + ' time zones: pick the lead\'s.' : '';
  };
  const loadCountry = async (code, keepState, keepZone) => {
    clear(state);
    state.append(el('option', { value: '', text: 'No state' }));
    states = [];
    zones = [];
    if (code) ({ states, zones } = await countryDetails(code));
    for (const s of states) state.append(el('option', { value: s.code, text: s.name + ' (' + s.kind + ')' }));
    state.disabled = !states.length;
    state.value = keepState && states.some((s) => s.code === keepState) ? keepState : '';
    await fillZones(keepZone);
  };

  country.addEventListener('change', async () => {
    chosen = false;
    await loadCountry(country.value, '', '');
    infer();
  });
  state.addEventListener('change', () => {
    if (!chosen) infer();
  });
  timezone.addEventListener('change', () => {
    chosen = true;
    hint.textContent = timezone.value ? 'Picked by hand.' : '';
  });

  country.value = initial.country || '';
  await loadCountry(country.value, initial.state || '', initial.timezone || '');
  chosen = !!initial.timezone;

  const node = el('div', { class: 'geo-pickers' },
    field('Country', country), field('State / region', state), el('div', {}, field('Time zone', timezone), hint));
  return {
    node,
    value: () => ({ country: country.value, state: state.value, timezone: timezone.value }),
  };
}
