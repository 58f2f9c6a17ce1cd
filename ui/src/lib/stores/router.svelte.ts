/** A tiny hash router: #/ (new chat), #/c/<id>, #/models, #/models/<name>, #/settings. */
export type Route =
  | { name: 'chat'; id: string | null }
  | { name: 'models'; model: string | null }
  | { name: 'settings' };

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const parts = path.split('/').filter(Boolean).map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  if (parts[0] === 'c' && parts[1]) return { name: 'chat', id: parts[1] };
  if (parts[0] === 'models') return { name: 'models', model: parts.slice(1).join('/') || null };
  if (parts[0] === 'settings') return { name: 'settings' };
  return { name: 'chat', id: null };
}

class Router {
  route = $state<Route>(parseHash(typeof location === 'undefined' ? '' : location.hash));

  constructor() {
    if (typeof window !== 'undefined') {
      window.addEventListener('hashchange', () => {
        this.route = parseHash(location.hash);
      });
    }
  }

  go(path: string, replace = false): void {
    const hash = `#${path}`;
    if (location.hash === hash) return;
    if (replace) {
      history.replaceState(null, '', hash);
      this.route = parseHash(hash);
    } else {
      location.hash = hash;
    }
  }
}

export const router = new Router();

export function chatPath(id: string | number): string {
  return `/c/${encodeURIComponent(String(id))}`;
}
export function modelPath(name: string): string {
  return `/models/${encodeURIComponent(name)}`;
}
