/** Toasts (with an optional action such as Undo) and a few app-wide flags. */
export interface Toast {
  id: number;
  kind: 'info' | 'error' | 'success';
  text: string;
  detail?: string;
  action?: { label: string; run: () => void };
  timeout: number;
}

class Notices {
  toasts = $state<Toast[]>([]);
  private next = 1;

  push(toast: Omit<Toast, 'id' | 'timeout'> & { timeout?: number }): number {
    // The same error again (each save of a message and its answer) is shown once.
    const same = this.toasts.find((shown) => shown.kind === 'error' && toast.kind === 'error' && shown.text === toast.text && !shown.action && !toast.action);
    if (same) return same.id;
    const id = this.next++;
    const timeout = toast.timeout ?? (toast.kind === 'error' ? 10_000 : 4_000);
    this.toasts.push({ ...toast, id, timeout });
    if (timeout > 0) setTimeout(() => this.dismiss(id), timeout);
    return id;
  }

  info(text: string, action?: Toast['action'], timeout?: number): number {
    return this.push({ kind: 'info', text, action, timeout });
  }

  error(text: string, detail?: string): number {
    return this.push({ kind: 'error', text, detail });
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((toast) => toast.id !== id);
  }
}

export const notices = new Notices();

/** Whether Hearth's /api/v1 (chats, settings) exists on this server. */
class ApiState {
  v1 = $state<'unknown' | 'ok' | 'missing'>('unknown');
}
export const apiState = new ApiState();
