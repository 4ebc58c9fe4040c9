// The chat page: conversations, the composer, streaming answers, models and the API key.

import { setKeyPrompt } from "./api.js";
import { streamAnswer } from "./chat.js";
import { millis } from "./format.js";
import { renderMarkdown } from "./markdown.js";
import { loadModelList, pull, refreshLoaded, tickExpiry, unload } from "./models.js";
import { Store } from "./store.js";

const $ = (id) => document.getElementById(id);
const store = new Store();
let running = null; // the AbortController of the answer streaming now

// -- errors and the API key ------------------------------------------------------------------

function showError(error) {
  const banner = $("banner");
  banner.textContent = error ? `Error: ${error.message ?? error}` : "";
  banner.hidden = !error;
}

function askKey(why) {
  const dialog = $("key-dialog");
  const input = $("key-input");
  const problem = $("key-error");
  problem.textContent = why;
  problem.hidden = !why;
  input.value = "";
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener("close", done);
      resolve(dialog.returnValue === "ok" && input.value ? input.value : null);
    };
    dialog.returnValue = "";
    dialog.addEventListener("close", done);
    dialog.showModal();
    input.focus();
  });
}

// -- conversations --------------------------------------------------------------------------

function renderConversationList() {
  const items = store.ordered.map((c) => {
    const item = document.createElement("li");
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open";
    open.textContent = c.title;
    if (c.id === store.currentId) open.setAttribute("aria-current", "true");
    open.addEventListener("click", () => {
      store.select(c.id);
      renderAll();
      $("prompt").focus();
    });
    const rename = document.createElement("button");
    rename.type = "button";
    rename.textContent = "✎";
    rename.title = "Rename";
    rename.setAttribute("aria-label", `Rename ${c.title}`);
    rename.addEventListener("click", () => askRename(c));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "✕";
    remove.title = "Delete";
    remove.setAttribute("aria-label", `Delete ${c.title}`);
    remove.addEventListener("click", () => {
      if (window.confirm(`Delete the conversation "${c.title}"?`)) {
        store.remove(c.id);
        renderAll();
      }
    });
    item.append(open, rename, remove);
    return item;
  });
  $("conversation-list").replaceChildren(...items);
}

function askRename(conversation) {
  const dialog = $("rename-dialog");
  const input = $("rename-input");
  input.value = conversation.title;
  dialog.returnValue = "";
  dialog.addEventListener(
    "close",
    () => {
      if (dialog.returnValue === "ok") {
        store.rename(conversation.id, input.value);
        renderConversationList();
      }
    },
    { once: true },
  );
  dialog.showModal();
  input.select();
}

function renderSettings() {
  const c = store.current;
  $("model").value = c.model;
  $("system").value = c.system;
  $("temperature").value = c.temperature ?? "";
  $("max-tokens").value = c.maxTokens ?? "";
}

function numberOrNull(input) {
  return input.value === "" || !input.checkValidity() ? null : Number(input.value);
}

function bindSettings() {
  $("model").addEventListener("change", () => {
    store.current.model = $("model").value.trim();
    store.save();
  });
  $("system").addEventListener("input", () => {
    store.current.system = $("system").value;
    store.save();
  });
  $("temperature").addEventListener("input", () => {
    store.current.temperature = numberOrNull($("temperature"));
    store.save();
  });
  $("max-tokens").addEventListener("input", () => {
    store.current.maxTokens = numberOrNull($("max-tokens"));
    store.save();
  });
}

// -- messages -------------------------------------------------------------------------------

function usageText(m) {
  const u = m.usage ?? {};
  const parts = [];
  if (m.stopped) parts.push("stopped");
  if (u.completion !== undefined) parts.push(`${u.prompt} prompt + ${u.completion} tokens`);
  if (u.ttft !== null && u.ttft !== undefined) parts.push(`first token after ${millis(u.ttft)}`);
  if (u.tps !== null && u.tps !== undefined) parts.push(`${u.tps.toFixed(1)} tok/s`);
  return parts.join(" · ");
}

function messageElement(m) {
  const box = document.createElement("article");
  box.className = `message ${m.role}`;
  const who = document.createElement("h3");
  who.className = "who";
  who.textContent = m.role === "user" ? "You" : "Assistant";
  box.append(who);
  if (m.role === "assistant") {
    const thinking = document.createElement("details");
    thinking.className = "thinking";
    const summary = document.createElement("summary");
    summary.textContent = "Thinking";
    const text = document.createElement("div");
    text.className = "thinking-text";
    thinking.append(summary, text);
    box.append(thinking);
  }
  const content = document.createElement("div");
  content.className = "content";
  box.append(content);
  const footer = document.createElement("p");
  footer.className = "usage";
  box.append(footer);
  updateMessage(box, m);
  return box;
}

function updateMessage(box, m) {
  const content = box.querySelector(".content");
  if (m.role === "assistant") {
    const thinking = box.querySelector(".thinking");
    thinking.hidden = !m.thinking;
    const text = thinking.querySelector(".thinking-text");
    if (text.textContent !== m.thinking) text.textContent = m.thinking;
    if (m.content !== box.dataset.rendered) {
      renderMarkdown(content, m.content);
      box.dataset.rendered = m.content;
    }
  } else if (content.textContent !== m.content) {
    content.textContent = m.content;
  }
  box.classList.toggle("failed", Boolean(m.error));
  const footer = box.querySelector(".usage");
  const text = m.error ? `Error: ${m.error}` : usageText(m);
  if (footer.textContent !== text) footer.textContent = text;
  footer.classList.toggle("error", Boolean(m.error));
}

function renderMessages() {
  $("messages").replaceChildren(...store.current.messages.map(messageElement));
}

function renderAll() {
  renderConversationList();
  renderSettings();
  renderMessages();
}

function setStreaming(on) {
  $("send").disabled = on;
  $("stop").disabled = !on;
  $("messages").setAttribute("aria-busy", String(on));
}

async function send() {
  const text = $("prompt").value;
  const conversation = store.current;
  if (!text.trim() || running) return;
  conversation.model = $("model").value.trim();
  if (!conversation.model) {
    showError("choose a model first (type a name or pull one)");
    $("model").focus();
    return;
  }
  showError(null);
  $("prompt").value = "";
  if (!conversation.messages.length || conversation.title === "New conversation") {
    conversation.title = text.trim().split("\n")[0].slice(0, 60);
  }
  conversation.messages.push({ role: "user", content: text });
  const answer = { role: "assistant", content: "", thinking: "", usage: null };
  conversation.messages.push(answer);
  store.touch(conversation);
  renderConversationList();
  const list = $("messages");
  list.append(messageElement(conversation.messages.at(-2)));
  const box = messageElement(answer);
  box.querySelector(".thinking").open = true;
  list.append(box);
  box.scrollIntoView({ block: "end" });

  running = new AbortController();
  setStreaming(true);
  let frame = null;
  const changed = () => {
    if (frame !== null) return;
    frame = requestAnimationFrame(() => {
      frame = null;
      updateMessage(box, answer);
      box.scrollIntoView({ block: "end" });
    });
  };
  await streamAnswer(conversation, answer, running.signal, changed);
  if (frame !== null) cancelAnimationFrame(frame);
  running = null;
  if (answer.content) box.querySelector(".thinking").open = false;
  updateMessage(box, answer);
  store.touch(conversation);
  setStreaming(false);
  $("prompt").focus();
  refreshPanels();
}

function stop() {
  running?.abort();
}

// -- models ---------------------------------------------------------------------------------

async function refreshPanels() {
  try {
    await refreshLoaded(async (name) => {
      try {
        await unload(name);
      } catch (error) {
        showError(error);
      }
      refreshPanels();
    });
  } catch (error) {
    showError(error);
  }
}

async function refreshModels() {
  try {
    const names = await loadModelList();
    if (!store.current.model && names.length) {
      store.current.model = names[0];
      store.save();
      renderSettings();
    }
  } catch (error) {
    showError(error);
  }
}

// -- wiring ---------------------------------------------------------------------------------

function bind() {
  setKeyPrompt(askKey);
  $("key-cancel").addEventListener("click", () => $("key-dialog").close(""));
  $("rename-cancel").addEventListener("click", () => $("rename-dialog").close(""));
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && running && !document.querySelector("dialog[open]")) {
      event.preventDefault();
      stop();
    }
  });
  $("stop").addEventListener("click", stop);
  $("new-conversation").addEventListener("click", () => {
    store.create($("model").value.trim());
    renderAll();
    $("prompt").focus();
  });
  $("models-refresh").addEventListener("click", refreshModels);
  $("ps-refresh").addEventListener("click", refreshPanels);
  $("pull-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const reference = $("pull-ref").value.trim();
    $("pull-button").disabled = true;
    const pulled = await pull(reference);
    $("pull-button").disabled = false;
    if (pulled) {
      await refreshModels();
      if (!$("model").value) {
        $("model").value = reference;
        store.current.model = reference;
        store.save();
      }
    }
  });
  bindSettings();
  window.addEventListener("storage", () => {
    if (!running) {
      store.load();
      renderAll();
    }
  });
  setInterval(tickExpiry, 15000);
}

bind();
renderAll();
document.body.dataset.ready = "true";
refreshModels().then(refreshPanels);
