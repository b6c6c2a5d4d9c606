// The signed-in user, what they may do, and which parts of the service are
// switched off (GET /features; nothing is off until it says so).
export const session = { user: null, permissions: new Set(), off: new Set() };

/** Whether the part `key` (chat, import, webhooks, patterns, …) is switched on. */
export function on(key) {
  return !session.off.has(key);
}

/** Reads the switches; the menus and pages follow them. */
export async function loadFeatures(get) {
  const list = await get('/features');
  session.off = new Set(list.filter((f) => !f.enabled).map((f) => f.key));
  return list;
}

export function can(p) {
  return session.permissions.has(p);
}

export function canAny(...ps) {
  return ps.some((p) => session.permissions.has(p));
}
