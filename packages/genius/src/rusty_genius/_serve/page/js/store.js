// Conversations, kept in this browser's localStorage.

const KEY = "rusty-genius.conversations";

function newId() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}

export function blankConversation(model = "") {
  return {
    id: newId(),
    title: "New conversation",
    model,
    system: "",
    temperature: null,
    maxTokens: null,
    messages: [],
    updated: Date.now(),
  };
}

export class Store {
  constructor() {
    this.conversations = [];
    this.currentId = null;
    this.load();
  }

  load() {
    try {
      const saved = JSON.parse(localStorage.getItem(KEY) ?? "null");
      if (saved && Array.isArray(saved.conversations)) {
        this.conversations = saved.conversations;
        this.currentId = saved.current;
      }
    } catch {
      this.conversations = [];
    }
    if (!this.conversations.length) this.conversations.push(blankConversation());
    if (!this.current) this.currentId = this.conversations[0].id;
  }

  save() {
    try {
      localStorage.setItem(
        KEY,
        JSON.stringify({ conversations: this.conversations, current: this.currentId }),
      );
      return true;
    } catch {
      return false; // full or disabled: the page still works, unsaved
    }
  }

  get current() {
    return this.conversations.find((c) => c.id === this.currentId) ?? null;
  }

  /** Conversations, most recently changed first. */
  get ordered() {
    return [...this.conversations].sort((a, b) => b.updated - a.updated);
  }

  create(model) {
    const made = blankConversation(model);
    this.conversations.push(made);
    this.currentId = made.id;
    this.save();
    return made;
  }

  select(id) {
    if (this.conversations.some((c) => c.id === id)) this.currentId = id;
    this.save();
  }

  touch(conversation) {
    conversation.updated = Date.now();
    this.save();
  }

  rename(id, title) {
    const found = this.conversations.find((c) => c.id === id);
    if (found && title.trim()) {
      found.title = title.trim();
      this.save();
    }
  }

  remove(id) {
    const model = this.current?.model ?? "";
    this.conversations = this.conversations.filter((c) => c.id !== id);
    if (!this.conversations.length) this.conversations.push(blankConversation(model));
    if (!this.current) this.currentId = this.ordered[0].id;
    this.save();
  }
}
