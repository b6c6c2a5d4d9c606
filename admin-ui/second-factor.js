// Two-factor sign-in: setting up an authenticator app, recovery codes, and
// turning it off. Also the page a session sees when its role requires a
// second factor that is not set up yet.
import { get, post } from './api.js';
import { el, clear, toast, attempt, field, fmtDate } from './ui.js';

function codeInput(id) {
  return el('input', { id, name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric', required: true, maxLength: 64, size: 12 });
}

function recoveryList(codes) {
  return el('div', { class: 'card', id: 'recovery-codes' },
    el('h3', { text: 'Recovery codes' }),
    el('p', { text: 'Keep these somewhere safe: each signs you in once if your phone is lost. They are shown only now.' }),
    el('ol', { class: 'mono' }, codes.map((c) => el('li', { text: c }))));
}

/** The setup steps: secret and link, then the first code. */
function setupFlow(box, done) {
  const start = el('button', { type: 'button', class: 'primary', id: 'second-factor-start', text: 'Set up an authenticator app' });
  start.addEventListener('click', () => attempt(async () => {
    const s = await post('/auth/2fa/setup');
    const code = codeInput('second-factor-code');
    const form = el('form', { class: 'card', id: 'second-factor-confirm' },
      el('p', { text: 'In your authenticator app, add an account with this key (or open the link on your phone):' }),
      el('p', {}, el('code', { class: 'secret', id: 'second-factor-secret', text: s.secret })),
      el('p', {}, el('a', { href: s.otpauth_uri, text: 'Open in an authenticator app' })),
      field('The 6-digit code the app shows', code),
      el('button', { type: 'submit', class: 'primary', text: 'Turn on' }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        const r = await post('/auth/2fa/confirm', { code: code.value });
        toast('Two-factor sign-in is on');
        clear(box);
        box.append(recoveryList(r.recovery_codes));
        if (done) box.append(el('button', { type: 'button', class: 'primary', id: 'second-factor-continue', text: 'Continue', onclick: done }));
      });
    });
    start.replaceWith(form);
    code.focus();
  }));
  box.append(start);
}

/** The Account page's section. */
export function secondFactorSection() {
  const box = el('section', { class: 'card', id: 'second-factor' }, el('h2', { text: 'Two-factor sign-in' }));
  const body = el('div');
  box.append(body);
  const render = async () => {
    clear(body);
    const s = await get('/auth/2fa');
    if (!s.enabled) {
      body.append(el('p', { text: s.required ? 'Your role requires a code from an authenticator app at sign-in.' : 'Off: signing in needs your password only.' }));
      setupFlow(body, render);
      return;
    }
    body.append(el('p', { id: 'second-factor-state', text: 'On since ' + fmtDate(s.enabled_at) + '. Recovery codes left: ' + s.recovery_codes_left + '.' }));
    const renewCode = codeInput('second-factor-renew-code');
    const renew = el('form', { class: 'inline-form' }, field('Code from the app', renewCode), el('button', { type: 'submit', text: 'New recovery codes' }));
    renew.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        const r = await post('/auth/2fa/recovery-codes', { code: renewCode.value });
        await render();
        body.append(recoveryList(r.recovery_codes));
      });
    });
    body.append(renew);
    if (s.required) {
      body.append(el('p', { class: 'muted', text: 'Your role requires it, so it cannot be turned off.' }));
      return;
    }
    const pass = el('input', { type: 'password', autocomplete: 'current-password', required: true });
    const offCode = codeInput('second-factor-off-code');
    const off = el('form', { class: 'inline-form' }, field('Password', pass), field('Code or recovery code', offCode), el('button', { type: 'submit', text: 'Turn off' }));
    off.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        await post('/auth/2fa/disable', { password: pass.value, code: offCode.value });
        toast('Two-factor sign-in is off');
        await render();
      });
    });
    body.append(off);
  };
  attempt(render);
  return box;
}

/** All a session may do until its required second factor is set up. */
export function setupRequiredPage(root, onDone) {
  clear(root);
  const box = el('div');
  root.append(el('section', { class: 'card login', id: 'second-factor-required' },
    el('h1', { text: 'Set up two-factor sign-in' }),
    el('p', { text: 'Your role requires a code from an authenticator app when you sign in. Set it up to continue.' }),
    box));
  setupFlow(box, onDone);
}
