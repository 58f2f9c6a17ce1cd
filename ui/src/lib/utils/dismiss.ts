/**
 * `use:dismiss={close}` on a popup menu's wrapper (the trigger button and the
 * menu): Escape inside it, or a press anywhere outside it, closes the menu.
 * Escape gives the focus back to the wrapper's first button (the trigger), as
 * a menu button should; the event stops there so it does not also stop an
 * answer or close a dialog. The arrow keys, Home and End move among the menu's
 * items.
 */
const MOVES = ['ArrowDown', 'ArrowUp', 'Home', 'End'];
export function dismiss(node: HTMLElement, close: () => void): { update: (next: () => void) => void; destroy: () => void } {
  let onclose = close;
  function onpointerdown(event: PointerEvent): void {
    if (!node.contains(event.target as Node)) onclose();
  }
  function onkeydown(event: KeyboardEvent): void {
    if (MOVES.includes(event.key)) return move(event);
    if (event.key !== 'Escape' || !node.querySelector('[role=menu]')) return;
    event.preventDefault();
    event.stopPropagation();
    onclose();
    node.querySelector<HTMLElement>('[aria-haspopup]')?.focus();
  }
  // A menu's own keys (WAI-ARIA menu button): the arrows, Home and End move the focus
  // among its items, from the trigger too; Tab still leaves as before.
  function move(event: KeyboardEvent): void {
    const items = [...node.querySelectorAll<HTMLElement>('[role=menu] [role=menuitem]')];
    if (!items.length) return;
    event.preventDefault();
    const at = items.indexOf(document.activeElement as HTMLElement);
    const last = items.length - 1;
    const next =
      event.key === 'Home' ? 0
      : event.key === 'End' ? last
      : event.key === 'ArrowUp' ? (at <= 0 ? last : at - 1)
      : at < 0 || at === last ? 0 : at + 1;
    items[next].focus();
  }
  document.addEventListener('pointerdown', onpointerdown, true);
  node.addEventListener('keydown', onkeydown);
  return {
    update(next) {
      onclose = next;
    },
    destroy() {
      document.removeEventListener('pointerdown', onpointerdown, true);
      node.removeEventListener('keydown', onkeydown);
    },
  };
}
