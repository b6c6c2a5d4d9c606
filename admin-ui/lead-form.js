// The lead form, for a new lead and for editing one: every field POST and
// PATCH /leads accept, the country → state → time zone pickers, the
// duplicate candidates while typing (new leads), and the edit sent with
// `If-Match` so that a lead changed by someone else meanwhile is not
// overwritten: the form says so and offers a reload instead.
import { get, post, patchIfMatch } from './api.js';
import { el, clear, toast, attempt, field } from './ui.js';
import { can } from './session.js';
import { geoPickers } from './geo.js';

/** The stored leads a new one may duplicate, each a link, with why. */
function candidateList(candidates) {
  return el('ul', { class: 'duplicate-candidates' }, ...candidates.map((c) => el('li', {},
    el('a', { href: '#/leads/' + c.id, text: c.company_name }),
    el('span', { class: 'muted', text: ' ' + [c.domain, c.status].filter(Boolean).join(' · ') + ' — ' + c.signals.join(', ') }))));
}

/** The lead's fields the form shows and saves. */
const EDITABLE = ['company_name', 'website', 'industry', 'status', 'country', 'state', 'timezone', 'owner', 'source', 'tags'];

/** Comma-separated tags as the API's list, blanks and repeats dropped. */
export function parseTags(text) {
  return [...new Set(text.split(',').map((t) => t.trim()).filter(Boolean))];
}

/** One contact's inputs (for the new-lead form and the contact editor). */
export function contactInputs(prefix, c = {}) {
  const inputs = {
    name: el('input', { id: prefix + '-name', required: true, autocomplete: 'off', value: c.name || '' }),
    position: el('input', { id: prefix + '-position', autocomplete: 'off', value: c.position || '' }),
    phone: el('input', { id: prefix + '-phone', type: 'tel', placeholder: '+49 30 901820', autocomplete: 'off', value: c.phone || '' }),
    email: el('input', { id: prefix + '-email', type: 'email', autocomplete: 'off', value: c.email || '' }),
    linkedin: el('input', { id: prefix + '-linkedin', type: 'url', placeholder: 'https://www.linkedin.com/in/…', autocomplete: 'off', value: c.linkedin || '' }),
  };
  const node = el('div', { class: 'contact-inputs' },
    field('Contact name', inputs.name), field('Position', inputs.position), field('Phone', inputs.phone),
    field('Email', inputs.email), field('LinkedIn', inputs.linkedin));
  // Empty optional fields are sent as null: on an edit, that clears them.
  const value = () => {
    const v = { name: inputs.name.value.trim() };
    for (const k of ['position', 'phone', 'email', 'linkedin']) v[k] = inputs[k].value.trim() || null;
    return v;
  };
  return { node, inputs, value };
}

/**
 * The form. `lead`/`etag` are the lead as loaded (none: a new lead);
 * `statuses` the pipeline, `users` those the owner may be picked from;
 * `onSaved(detailOrLead, etag)` runs after a save; `onStale()` reloads.
 */
export async function leadForm({ lead, etag, statuses, users, onSaved, onStale }) {
  const editing = !!lead;
  const id = editing ? 'edit-lead' : 'new-lead';
  const l = lead || {};
  let version = etag;
  const company = el('input', { required: true, id: id + '-company', autocomplete: 'off', maxlength: 255, value: l.company_name || '' });
  const website = el('input', { id: id + '-website', placeholder: 'acme.com', autocomplete: 'off', value: l.website || '' });
  const industry = el('input', { id: id + '-industry', autocomplete: 'off', value: l.industry || '' });
  const status = el('select', { id: id + '-status' }, statuses.map((s) => el('option', { value: s.id, text: s.name })));
  status.value = l.status || statuses[0]?.id || '';
  const source = el('input', { id: id + '-source', placeholder: 'referral, fair, web…', autocomplete: 'off', value: l.source || '' });
  const tags = el('input', { id: id + '-tags', placeholder: 'saas, dach', autocomplete: 'off', value: (l.tags || []).join(', ') });
  const mayAssign = can('leads.assign') && users.length > 0;
  const owner = el('select', { id: id + '-owner' },
    el('option', { value: '', text: editing ? 'Nobody' : 'By the assignment rule' }),
    users.filter((u) => u.active !== false || u.id === l.owner).map((u) => el('option', { value: u.id, text: u.display_name || u.username })));
  owner.value = l.owner || '';
  const geo = await geoPickers(id, l);

  // A new lead: its contacts, one block each.
  const contacts = [];
  const contactsBox = el('div', { class: 'contacts-inputs' });
  const addContact = () => {
    const n = contacts.length + 1;
    // The first contact keeps the ids the form always had.
    const c = contactInputs(n === 1 ? 'new-lead-contact' : 'new-lead-contact-' + n);
    if (n === 1) {
      c.inputs.name.id = 'new-lead-contact';
      c.inputs.email.id = 'new-lead-email';
    }
    c.inputs.name.required = false;
    contacts.push(c);
    contactsBox.insertBefore(el('fieldset', { class: 'contact-box' }, el('legend', { text: 'Contact ' + n }), c.node), addButton);
    return c;
  };
  const addButton = el('button', { type: 'button', id: 'new-lead-add-contact', text: 'Add another contact', onclick: () => addContact().inputs.name.focus() });
  if (!editing) {
    contactsBox.append(addButton);
    addContact();
  }

  // Shown while typing: what the create would refuse as a duplicate.
  const warning = el('div', { id: id + '-duplicates', class: 'notice', role: 'status', 'aria-live': 'polite', hidden: true });
  const anyway = el('button', { type: 'button', id: id + '-anyway', text: 'Create anyway', hidden: true });
  // An edit refused because the lead changed meanwhile.
  const conflict = el('div', { id: id + '-conflict', class: 'notice error', role: 'alert', hidden: true });
  const showCandidates = (candidates) => {
    clear(warning);
    warning.hidden = candidates.length === 0;
    if (candidates.length) warning.append(el('strong', { text: 'This lead may already exist:' }), candidateList(candidates));
  };
  let asked = 0;
  let timer = null;
  const check = () => {
    clearTimeout(timer);
    anyway.hidden = true;
    timer = setTimeout(async () => {
      const q = new URLSearchParams();
      if (company.value.trim()) q.set('company_name', company.value.trim());
      if (website.value.trim()) q.set('website', website.value.trim());
      const email = contacts.map((c) => c.inputs.email.value.trim()).find(Boolean);
      if (email) q.set('email', email);
      const phone = contacts.map((c) => c.inputs.phone.value.trim()).find(Boolean);
      if (phone) q.set('phone', phone);
      if (geo.value().country) q.set('country', geo.value().country);
      if (![...q.keys()].length) return showCandidates([]);
      const mine = ++asked;
      try {
        const found = await get('/leads/duplicates?' + q);
        if (mine === asked) showCandidates(found.items);
      } catch (_) {
        /* a hint only: the create still checks */
      }
    }, 300);
  };
  if (!editing) {
    [company, website].forEach((i) => i.addEventListener('input', check));
    // Contacts come and go: one listener on their box for all of them.
    contactsBox.addEventListener('input', (e) => {
      if (e.target.type === 'email' || e.target.type === 'tel') check();
    });
  }

  const fields = () => {
    const g = geo.value();
    return {
      company_name: company.value.trim(),
      website: website.value.trim() || null,
      industry: industry.value.trim() || null,
      status: status.value,
      country: g.country || null,
      state: g.state || null,
      timezone: g.timezone || null,
      source: source.value.trim() || null,
      tags: parseTags(tags.value),
    };
  };

  const create = (allowDuplicate) => attempt(async () => {
    const body = fields();
    for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
    if (mayAssign && owner.value) body.owner = owner.value;
    const filled = contacts.map((c) => c.value()).filter((c) => c.name || c.email || c.phone);
    if (filled.some((c) => !c.name)) throw new Error('Each contact needs a name');
    body.contacts = filled.map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== null)));
    if (allowDuplicate) body.allow_duplicate = true;
    try {
      const created = await post('/leads', body);
      toast('Lead created: ' + created.lead.company_name);
      showCandidates([]);
      anyway.hidden = true;
      onSaved(created);
    } catch (e) {
      if (e.code !== 'duplicate') throw e;
      showCandidates(e.candidates);
      anyway.hidden = false;
      anyway.focus();
    }
  });

  const save = () => attempt(async () => {
    const body = fields();
    // The owner is sent only when it changes: it needs leads.assign.
    if (mayAssign && owner.value !== (l.owner || '')) body.owner = owner.value || null;
    try {
      const saved = await patchIfMatch('/leads/' + l.id, body, version);
      version = saved.etag;
      conflict.hidden = true;
      toast('Lead saved');
      onSaved(saved.body, saved.etag);
    } catch (e) {
      if (e.status !== 412) throw e;
      clear(conflict);
      conflict.append(
        el('strong', { text: 'This lead was changed by someone else since you opened it.' }),
        ' Your changes were not saved. Reload to see the current lead, then make your change again. ',
        el('button', { type: 'button', id: 'edit-lead-reload', text: 'Reload', onclick: onStale }));
      conflict.hidden = false;
      conflict.querySelector('button').focus();
    }
  });
  anyway.addEventListener('click', () => create(true));

  const form = el('form', { class: 'card lead-form', id },
    el('div', { class: 'form-grid' },
      field('Company', company), field('Website', website), field('Industry', industry), field('Status', status),
      mayAssign ? field('Owner', owner) : null, field('Source', source), field('Tags (comma-separated)', tags)),
    geo.node,
    editing ? null : contactsBox,
    el('div', { class: 'toolbar' },
      el('button', { type: 'submit', class: 'primary', text: editing ? 'Save lead' : 'Add lead' }), anyway),
    warning, conflict);
  /** Takes `etag` as the version to edit, if `fresh` (the lead as stored
   *  now) differs from the loaded lead in none of the form's fields. */
  form.adoptVersion = (fresh, etag) => {
    const same = EDITABLE.every((k) => JSON.stringify(fresh[k] ?? null) === JSON.stringify(l[k] ?? null));
    if (same) version = etag;
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (editing) save();
    else create(false);
  });
  return form;
}
