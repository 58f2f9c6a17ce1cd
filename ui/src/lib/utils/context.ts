/** How much of num_ctx a chat uses, for the composer's context meter. */
import type { MessageStats } from '../services/types';

export interface ContextUsage {
  used: number;
  numCtx: number;
  /** true when part of `used` is a characters/4 estimate (the draft, or messages after the last answer). */
  estimated: boolean;
  basis: string;
}

/** Rough tokens for text the server has not counted yet: about 4 characters a token. */
export function estimateTokens(text: string): number {
  return text ? Math.ceil(text.length / 4) : 0;
}

/**
 * The last answer's prompt_eval_count + eval_count is what the server counted for the
 * whole chat up to that answer; what came after it and the draft are estimated.
 */
export function contextUsage(
  messages: { role: string; content: string; stats?: MessageStats }[],
  draft: string,
  numCtx: number,
): ContextUsage {
  let counted = 0;
  let after = 0;
  let i = messages.length - 1;
  for (; i >= 0; i--) {
    const stats = messages[i].stats;
    if (messages[i].role === 'assistant' && stats?.prompt_eval_count !== undefined) {
      counted = (stats.prompt_eval_count ?? 0) + (stats.eval_count ?? 0);
      break;
    }
  }
  for (const message of messages.slice(i + 1)) after += estimateTokens(message.content);
  const draftTokens = estimateTokens(draft);
  const used = counted + after + draftTokens;
  const parts = [];
  if (counted) parts.push(`${counted} counted by the model in the last answer (prompt + answer)`);
  if (after + draftTokens) parts.push(`about ${after + draftTokens} estimated at 4 characters a token for text not yet sent`);
  return { used, numCtx, estimated: after + draftTokens > 0, basis: parts.join('; ') || 'nothing yet' };
}
