// A lead's contacts on its page: phone numbers call (`tel:`), emails write
// (`mailto:`), and with leads.write each contact is edited or removed in
// place and new ones are added below the list; contacts.erase erases a
// person's data for good (GDPR art. 17).
import { get, post, patch, del } from './api.js';
import { el, clear, toast, attempt } from './ui.js';
import { can } from './session.js';
import { contactInputs } from './lead-form.js';

/** `tel:` wants the digits and a leading +, nothing else. */
export function telHref(phone) {
  return 'tel:' + phone.replace(/[^\d+]/g, '');
}

/** A contact's ways to reach them, as links. */
export function reachLinks(c) {
  const parts = [];
  if (c.phone) parts.push(el('a', { href: telHref(c.phone), class: 'tel', text: c.phone, 'aria-label': 'Call ' + c.name + ' at ' + c.phone }));
  if (c.email) parts.push(el('a', { href: 'mailto:' + c.email, text: c.email, 'aria-label': 'Email ' + c.name }));
  if (c.linkedin && /^https?:\/\//i.test(c.linkedin)) parts.push(el('a', { href: c.linkedin, target: '_blank', rel: 'noopener noreferrer', text: 'LinkedIn' }));
  return parts.flatMap((p, i) => (i ? [' · ', p] : [p]));
}

/** Fills `box` with the contacts of lead `leadId` and keeps it current. */
export async function contactsSection(box, leadId, initial) {
  const mayWrite = can('leads.write');
  const ul = el('ul', { class: 'list contacts', id: 'contacts-list' });
  clear(box).append(ul);

  const reload = async () => render(await get('/leads/' + leadId + '/contacts'));

  function render(contacts) {
    clear(ul);
    for (const c of contacts) ul.append(item(c));
    if (!contacts.length) ul.append(el('li', { class: 'muted', text: 'No contacts.' }));
  }

  function item(c) {
    const li = el('li', { 'data-contact': c.id },
      el('strong', { text: c.name }), c.position ? el('span', { class: 'muted', text: ' ' + c.position }) : null,
      el('div', { class: 'reach' }, reachLinks(c)));
    const actions = el('div', { class: 'toolbar' });
    if (mayWrite) {
      actions.append(
        el('button', { type: 'button', class: 'link', text: 'Edit', 'aria-label': 'Edit contact ' + c.name, onclick: () => li.replaceWith(editor(c, li)) }),
        el('button', { type: 'button', class: 'link danger', text: 'Remove', 'aria-label': 'Remove contact ' + c.name, onclick: () => attempt(async () => {
          if (!window.confirm('Remove ' + c.name + ' from this lead?')) return;
          await del('/leads/' + leadId + '/contacts/' + c.id);
          toast('Contact removed: ' + c.name);
          await reload();
        }) }));
    }
    if (can('contacts.erase')) {
      actions.append(el('button', { type: 'button', class: 'link danger', text: 'Erase personal data', 'aria-label': 'Erase personal data of ' + c.name, onclick: () => attempt(async () => {
        if (!window.confirm('Erase the personal data of ' + c.name + '? Name, position, phone, email and LinkedIn are removed from this lead, its history, notes and exports for good. This cannot be undone.')) return;
        const erased = await post('/leads/' + leadId + '/contacts/' + c.id + '/erase', {});
        toast('Erased: now ' + erased.name);
        await reload();
      }) }));
    }
    if (actions.children.length) li.append(actions);
    return li;
  }

  function editor(c, shown) {
    const inputs = contactInputs('contact-' + c.id, c);
    const form = el('form', { class: 'card contact-editor', 'data-contact': c.id }, inputs.node,
      el('div', { class: 'toolbar' },
        el('button', { type: 'submit', class: 'primary', text: 'Save contact' }),
        el('button', { type: 'button', class: 'link', text: 'Cancel', onclick: () => li.replaceWith(shown) })));
    const li = el('li', {}, form);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        await patch('/leads/' + leadId + '/contacts/' + c.id, inputs.value());
        toast('Contact saved');
        await reload();
      });
    });
    setTimeout(() => inputs.inputs.name.focus());
    return li;
  }

  function adder() {
    let inputs = contactInputs('add-contact');
    const form = el('form', { class: 'card', id: 'add-contact' }, inputs.node,
      el('button', { type: 'submit', class: 'primary', text: 'Add contact' }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        const body = Object.fromEntries(Object.entries(inputs.value()).filter(([, v]) => v !== null));
        const added = await post('/leads/' + leadId + '/contacts', body);
        toast('Contact added: ' + added.name);
        const fresh = contactInputs('add-contact');
        inputs.node.replaceWith(fresh.node);
        inputs = fresh;
        await reload();
      });
    });
    return el('details', { id: 'add-contact-box' }, el('summary', { text: 'Add a contact' }), form);
  }

  render(initial);
  if (mayWrite) box.append(adder());
}
