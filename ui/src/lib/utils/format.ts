export function formatBytes(bytes: number | undefined | null): string {
  if (bytes === undefined || bytes === null || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function formatDate(value: string | number | undefined | null): string {
  if (!value) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** tokens per second from Ollama's eval_count / eval_duration (ns). */
export function tokensPerSecond(evalCount?: number, evalDurationNs?: number): number | undefined {
  if (!evalCount || !evalDurationNs) return undefined;
  return (evalCount / evalDurationNs) * 1e9;
}

export type DateGroup = 'Pinned' | 'Today' | 'Yesterday' | 'Previous 7 days' | 'Older';

export function dateGroup(value: string | number | undefined | null, now = new Date()): Exclude<DateGroup, 'Pinned'> {
  const date = value ? new Date(value) : new Date(0);
  const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const time = date.getTime();
  if (time >= startOfToday) return 'Today';
  if (time >= startOfToday - 86_400_000) return 'Yesterday';
  if (time >= startOfToday - 7 * 86_400_000) return 'Previous 7 days';
  return 'Older';
}

export function groupByDate<T extends { updated_at?: string; created_at?: string; pinned?: boolean }>(
  items: T[],
  now = new Date(),
): { label: DateGroup; items: T[] }[] {
  const order: DateGroup[] = ['Pinned', 'Today', 'Yesterday', 'Previous 7 days', 'Older'];
  const groups = new Map<DateGroup, T[]>();
  for (const item of items) {
    const label: DateGroup = item.pinned ? 'Pinned' : dateGroup(item.updated_at ?? item.created_at, now);
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label)!.push(item);
  }
  return order.filter((label) => groups.has(label)).map((label) => ({ label, items: groups.get(label)! }));
}

export function uid(prefix = 'local'): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export function downloadBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
