/**
 * The sidebar: collapsible on a wide window (remembered), a drawer on a phone.
 *
 * Why two places for the choice: localStorage gives it before the first paint
 * (no flash of a sidebar that then closes), and the server's settings (the
 * free-form `window` object) keep it for the desktop app, whose origin (a
 * free port) changes at every launch and so starts with empty localStorage.
 * The phone drawer always starts closed: an open one would hide the chat.
 */
import { settings } from './settings.svelte';

const KEY = 'hearth.sidebar';
/** Below this width the sidebar is a drawer over the page, not a column beside it. */
export const PHONE_QUERY = '(max-width: 720px)';

function storedCollapsed(): boolean {
  try {
    return localStorage.getItem(KEY) === 'collapsed';
  } catch {
    return false;
  }
}

function phoneNow(): boolean {
  return typeof matchMedia === 'function' && matchMedia(PHONE_QUERY).matches;
}

class Layout {
  /** wide windows: the person hid the sidebar */
  collapsed = $state(storedCollapsed());
  /** narrow windows: the drawer is open */
  drawerOpen = $state(false);
  phone = $state(phoneNow());

  constructor() {
    if (typeof matchMedia === 'function') {
      matchMedia(PHONE_QUERY).addEventListener?.('change', (event) => {
        this.phone = event.matches;
        this.drawerOpen = false;
      });
    }
  }

  get sidebarShown(): boolean {
    return this.phone ? this.drawerOpen : !this.collapsed;
  }

  toggle(): void {
    if (this.phone) this.drawerOpen = !this.drawerOpen;
    else this.setCollapsed(!this.collapsed);
  }

  closeDrawer(): void {
    this.drawerOpen = false;
  }

  setCollapsed(collapsed: boolean): void {
    this.collapsed = collapsed;
    try {
      localStorage.setItem(KEY, collapsed ? 'collapsed' : 'open');
    } catch {
      /* private mode: the server's copy still has it */
    }
    const window = { ...((settings.value.window as Record<string, unknown> | undefined) ?? {}), sidebar: collapsed ? 'collapsed' : 'open' };
    settings.update({ window }).catch(() => {});
  }

  /** After the settings load: the server's copy wins when this origin has none (the desktop app). */
  adopt(): void {
    const saved = (settings.value.window as Record<string, unknown> | undefined)?.sidebar;
    let local: string | null = null;
    try {
      local = localStorage.getItem(KEY);
    } catch {
      /* ignore */
    }
    if (local === null && (saved === 'collapsed' || saved === 'open')) {
      this.collapsed = saved === 'collapsed';
      try {
        localStorage.setItem(KEY, saved);
      } catch {
        /* ignore */
      }
    }
  }
}

export const layout = new Layout();
