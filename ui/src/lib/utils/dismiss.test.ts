import { afterEach, describe, expect, it, vi } from 'vitest';
import { dismiss } from './dismiss';

function menu(): { wrapper: HTMLElement; trigger: HTMLButtonElement; items: HTMLButtonElement[] } {
  const wrapper = document.createElement('div');
  wrapper.innerHTML =
    '<button aria-haspopup="menu">⋯</button>' +
    '<div role="menu"><button role="menuitem">Rename</button><button role="menuitem">Pin</button><button role="menuitem">Delete</button></div>';
  document.body.append(wrapper);
  return {
    wrapper,
    trigger: wrapper.querySelector('button')!,
    items: [...wrapper.querySelectorAll<HTMLButtonElement>('[role=menuitem]')],
  };
}

function press(target: HTMLElement, key: string): KeyboardEvent {
  const event = new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true });
  target.dispatchEvent(event);
  return event;
}

afterEach(() => {
  document.body.innerHTML = '';
});

describe('dismiss', () => {
  it('moves the focus among the items with the arrows, Home and End', () => {
    const { wrapper, trigger, items } = menu();
    const action = dismiss(wrapper, () => {});
    trigger.focus();
    expect(press(trigger, 'ArrowDown').defaultPrevented).toBe(true);
    expect(document.activeElement).toBe(items[0]);
    press(items[0], 'ArrowDown');
    expect(document.activeElement).toBe(items[1]);
    press(items[1], 'End');
    expect(document.activeElement).toBe(items[2]);
    press(items[2], 'ArrowDown'); // wraps
    expect(document.activeElement).toBe(items[0]);
    press(items[0], 'ArrowUp'); // wraps back
    expect(document.activeElement).toBe(items[2]);
    press(items[2], 'Home');
    expect(document.activeElement).toBe(items[0]);
    action.destroy();
  });

  it('closes on Escape and gives the focus back to the trigger', () => {
    const { wrapper, trigger, items } = menu();
    const close = vi.fn();
    const action = dismiss(wrapper, close);
    items[1].focus();
    press(items[1], 'Escape');
    expect(close).toHaveBeenCalledOnce();
    expect(document.activeElement).toBe(trigger);
    action.destroy();
  });

  it('leaves the arrows alone when no menu is open', () => {
    const wrapper = document.createElement('div');
    wrapper.innerHTML = '<button aria-haspopup="menu">⋯</button>';
    document.body.append(wrapper);
    const action = dismiss(wrapper, () => {});
    expect(press(wrapper.querySelector('button')!, 'ArrowDown').defaultPrevented).toBe(false);
    action.destroy();
  });
});
