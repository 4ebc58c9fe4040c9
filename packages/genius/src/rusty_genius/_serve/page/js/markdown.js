// Markdown to safe HTML (marked, then DOMPurify), with a copy button on each code block.

import { marked } from "../vendor/marked/marked.esm.js";
import DOMPurify from "../vendor/dompurify/purify.es.js";

marked.use({ gfm: true, breaks: false });

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Copy failed";
  }
  setTimeout(() => {
    button.textContent = "Copy";
  }, 1500);
}

function addCopyButtons(root) {
  for (const pre of root.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    const box = document.createElement("div");
    box.className = "code-block";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    const language = /language-(\S+)/.exec(code?.className ?? "")?.[1];
    button.setAttribute("aria-label", language ? `Copy the ${language} code` : "Copy the code");
    button.addEventListener("click", () => copy((code ?? pre).textContent, button));
    pre.replaceWith(box);
    box.append(button, pre);
  }
}

/** Render `text` as Markdown into `element` (replacing what it held). */
export function renderMarkdown(element, text) {
  const html = DOMPurify.sanitize(marked.parse(text), { USE_PROFILES: { html: true } });
  const template = document.createElement("template");
  template.innerHTML = html;
  for (const link of template.content.querySelectorAll("a[href]")) {
    link.rel = "noopener noreferrer";
    link.target = "_blank";
  }
  addCopyButtons(template.content);
  element.replaceChildren(template.content);
}
