/**
 * Hearth's own dialogs, opened from anywhere (the page, or the desktop menu
 * through window.hearth): a question with an optional list of suggestions,
 * and the About box. One question at a time: a new one answers the old with
 * null (cancelled).
 */
import { STARTERS } from '../utils/starters';

export interface Suggestion {
  name: string;
  note?: string;
}

export interface Question {
  title: string;
  label?: string;
  value?: string;
  placeholder?: string;
  confirm?: string;
  suggestions?: (string | Suggestion)[];
}

interface Open extends Question {
  resolve: (answer: string | null) => void;
}

class Dialogs {
  question = $state<Open | null>(null);
  about = $state(false);

  ask(question: Question): Promise<string | null> {
    this.question?.resolve(null);
    return new Promise((resolve) => {
      this.question = { ...question, resolve };
    });
  }

  /** Which model to pull, with the small starters as suggestions (the page and the desktop menu). */
  askPull(): Promise<string | null> {
    return this.ask({ title: 'Pull a model', label: 'Model to pull', placeholder: 'e.g. gemma3:270m or hf.co/user/repo:Q4_K_M', confirm: 'Pull', suggestions: STARTERS });
  }

  answer(value: string | null): void {
    const open = this.question;
    this.question = null;
    const text = value?.trim();
    open?.resolve(text ? text : null);
  }
}

export const dialogs = new Dialogs();
