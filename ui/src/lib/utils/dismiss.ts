/**
 * `use:dismiss={close}` on a popup menu's wrapper (the trigger button and the
 * menu): Escape inside it, or a press anywhere outside it, closes the menu.
 * Escape gives the focus back to the wrapper's first button (the trigger), as
 * a menu button should; the event stops there so it does not also stop an
 * answer or close a dialog.
 */
export function dismiss(node: HTMLElement, close: () => void): { update: (next: () => void) => void; destroy: () => void } {
  let onclose = close;
  function onpointerdown(event: PointerEvent): void {
    if (!node.contains(event.target as Node)) onclose();
  }
  function onkeydown(event: KeyboardEvent): void {
    if (event.key !== 'Escape' || !node.querySelector('[role=menu]')) return;
    event.preventDefault();
    event.stopPropagation();
    onclose();
    node.querySelector<HTMLElement>('[aria-haspopup]')?.focus();
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
