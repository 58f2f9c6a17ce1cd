/** Hearth's own app API under /api/v1: chats, messages, settings, system. */
import { getJson, request } from './http';
import type { ChatRecord, ChatSummary, Settings, StoredMessage } from './types';

const BASE = '/api/v1';

export interface ChatList {
  chats: ChatSummary[];
  total?: number;
}

export async function listChats(params: { limit?: number; offset?: number; q?: string } = {}): Promise<ChatList> {
  const query = new URLSearchParams();
  if (params.limit !== undefined) query.set('limit', String(params.limit));
  if (params.offset !== undefined) query.set('offset', String(params.offset));
  if (params.q) query.set('q', params.q);
  const qs = query.toString();
  const data = await getJson<ChatList | ChatSummary[]>(`${BASE}/chats${qs ? `?${qs}` : ''}`);
  return Array.isArray(data) ? { chats: data } : { chats: data.chats ?? [], total: data.total };
}

export function getChat(id: string | number): Promise<ChatRecord> {
  return getJson<ChatRecord>(`${BASE}/chats/${encodeURIComponent(String(id))}`).then(unwrapChat);
}

export function createChat(body: Partial<ChatRecord>): Promise<ChatRecord> {
  return getJson<ChatRecord>(`${BASE}/chats`, { method: 'POST', json: body }).then(unwrapChat);
}

export function updateChat(id: string | number, patch: Partial<ChatRecord>): Promise<ChatRecord> {
  return getJson<ChatRecord>(`${BASE}/chats/${encodeURIComponent(String(id))}`, {
    method: 'PATCH',
    json: patch,
  }).then(unwrapChat);
}

export async function deleteChat(id: string | number): Promise<void> {
  // keepalive: a deletion sent as the page goes (chatList.flushDeletes) still arrives.
  await request(`${BASE}/chats/${encodeURIComponent(String(id))}`, { method: 'DELETE', keepalive: true });
}

export function addMessage(chatId: string | number, message: Partial<StoredMessage>): Promise<StoredMessage> {
  return getJson<StoredMessage | { message: StoredMessage }>(
    `${BASE}/chats/${encodeURIComponent(String(chatId))}/messages`,
    { method: 'POST', json: message },
  ).then((data) =>
    'message' in data && data.message && typeof data.message === 'object'
      ? (data.message as StoredMessage)
      : (data as StoredMessage),
  );
}

export async function updateMessage(
  chatId: string | number,
  messageId: string | number,
  patch: Partial<StoredMessage>,
  init: RequestInit = {},
): Promise<void> {
  await request(
    `${BASE}/chats/${encodeURIComponent(String(chatId))}/messages/${encodeURIComponent(String(messageId))}`,
    { method: 'PATCH', json: patch, ...init },
  );
}

export async function deleteMessage(chatId: string | number, messageId: string | number): Promise<void> {
  await request(
    `${BASE}/chats/${encodeURIComponent(String(chatId))}/messages/${encodeURIComponent(String(messageId))}`,
    { method: 'DELETE' },
  );
}

export async function exportChat(id: string | number, format: 'json' | 'md'): Promise<Blob> {
  const response = await request(`${BASE}/chats/${encodeURIComponent(String(id))}/export?format=${format}`);
  return response.blob();
}

export function importChats(data: unknown): Promise<unknown> {
  return getJson<unknown>(`${BASE}/chats/import`, { method: 'POST', json: data });
}

export function getSettings(): Promise<Settings> {
  return getJson<Settings | { settings: Settings }>(`${BASE}/settings`).then((data) =>
    'settings' in data && data.settings && typeof data.settings === 'object' ? (data.settings as Settings) : (data as Settings),
  );
}

export function updateSettings(patch: Partial<Settings>): Promise<Settings> {
  return getJson<Settings>(`${BASE}/settings`, { method: 'PATCH', json: patch });
}

export function getSystem(): Promise<Record<string, unknown>> {
  return getJson<Record<string, unknown>>(`${BASE}/system`);
}

export interface RunnerLog {
  model: string;
  path: string;
  text: string;
}

/** The end of a model's llama-server log (the error itself carries only its last lines). */
export function getRunnerLog(model: string): Promise<RunnerLog> {
  return getJson<RunnerLog>(`${BASE}/logs/llama-server?model=${encodeURIComponent(model)}`);
}

function unwrapChat(data: ChatRecord | { chat: ChatRecord }): ChatRecord {
  if ('chat' in data && data.chat && typeof data.chat === 'object') {
    const chat = data.chat as ChatRecord;
    const extra = data as { messages?: StoredMessage[] };
    if (!chat.messages && extra.messages) chat.messages = extra.messages;
    return chat;
  }
  return data as ChatRecord;
}
