// The signed-in user and what they may do.
export const session = { user: null, permissions: new Set() };

export function can(p) {
  return session.permissions.has(p);
}

export function canAny(...ps) {
  return ps.some((p) => session.permissions.has(p));
}
