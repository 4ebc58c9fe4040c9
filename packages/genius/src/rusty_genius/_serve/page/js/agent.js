// Structured output and tools: the per-conversation settings, checked in the page before
// anything is sent, the request fields they make, and answers shown as JSON or tool calls.

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** A conversation's agent settings, with defaults for conversations saved before them. */
export function agentSettings(conversation) {
  return {
    format: conversation.format ?? "off", // "off", "json" (any object) or "schema"
    schema: conversation.schema ?? "",
    tools: conversation.tools ?? "",
    toolChoice: conversation.toolChoice ?? "auto",
  };
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${error.message}`);
  }
}

/** The JSON Schema in `text`, or throws an Error saying what is wrong with it. */
export function parseSchema(text) {
  if (!text.trim()) throw new Error("the JSON Schema is empty: write one, or pick another mode");
  const schema = parseJson(text, "the JSON Schema");
  if (!isObject(schema)) throw new Error("the JSON Schema must be a JSON object ({...})");
  return schema;
}

function normaliseTool(item, n) {
  const where = `tool ${n + 1}`;
  if (!isObject(item)) throw new Error(`${where} must be an object`);
  let fn = item;
  if ("function" in item || "type" in item) {
    if (item.type !== "function") throw new Error(`${where}: "type" must be "function"`);
    if (!isObject(item.function)) throw new Error(`${where}: "function" must be an object`);
    fn = item.function;
  }
  if (typeof fn.name !== "string" || !TOOL_NAME.test(fn.name)) {
    throw new Error(
      `${where}: "name" must be 1 to 64 letters, digits, "_", "." or "-" (got ${JSON.stringify(fn.name ?? null)})`,
    );
  }
  if (fn.description !== undefined && typeof fn.description !== "string") {
    throw new Error(`${where} (${fn.name}): "description" must be a string`);
  }
  if (fn.parameters !== undefined && !isObject(fn.parameters)) {
    throw new Error(`${where} (${fn.name}): "parameters" must be a JSON Schema object`);
  }
  return { type: "function", function: fn };
}

/** OpenAI-style tools from `text` (empty: none), or throws an Error naming the bad one. */
export function parseTools(text) {
  if (!text.trim()) return [];
  const list = parseJson(text, "the tools");
  if (!Array.isArray(list)) throw new Error("the tools must be a JSON array ([...])");
  const tools = list.map(normaliseTool);
  const seen = new Set();
  for (const tool of tools) {
    if (seen.has(tool.function.name)) {
      throw new Error(`two tools are named "${tool.function.name}"`);
    }
    seen.add(tool.function.name);
  }
  return tools;
}

/** Problems with a conversation's settings, per field: {schema, tools} (null: fine). */
export function agentProblems(conversation) {
  const s = agentSettings(conversation);
  const problems = { schema: null, tools: null };
  if (s.format === "schema") {
    try {
      parseSchema(s.schema);
    } catch (error) {
      problems.schema = error.message;
    }
  }
  try {
    const names = parseTools(s.tools).map((t) => t.function.name);
    if (!["auto", "required", "none"].includes(s.toolChoice) && !names.includes(s.toolChoice)) {
      problems.tools = `the tool choice names "${s.toolChoice}", which is not among the tools`;
    } else if (s.toolChoice === "required" && !names.length) {
      problems.tools = 'the tool choice is "required" but no tool is defined';
    }
  } catch (error) {
    problems.tools = error.message;
  }
  return problems;
}

/** The request fields of a conversation's settings (call agentProblems first). */
export function agentFields(conversation) {
  const s = agentSettings(conversation);
  const fields = {};
  if (s.format === "json") fields.response_format = { type: "json_object" };
  if (s.format === "schema") {
    fields.response_format = {
      type: "json_schema",
      json_schema: { name: "response", schema: parseSchema(s.schema), strict: true },
    };
  }
  const tools = parseTools(s.tools);
  if (tools.length) {
    fields.tools = tools;
    fields.tool_choice = ["auto", "required", "none"].includes(s.toolChoice)
      ? s.toolChoice
      : { type: "function", function: { name: s.toolChoice } };
  }
  return fields;
}

/** Merge one streamed `tool_calls` delta into `calls` ([{id, name, arguments}]). */
export function mergeToolCalls(calls, deltas) {
  for (const delta of deltas) {
    const index = delta.index ?? calls.length;
    const call = (calls[index] ??= { id: "", name: "", arguments: "" });
    if (delta.id) call.id = delta.id;
    if (delta.function?.name) call.name += delta.function.name;
    if (delta.function?.arguments) call.arguments += delta.function.arguments;
  }
}

function pretty(text) {
  try {
    return { text: JSON.stringify(JSON.parse(text), null, 2), valid: true };
  } catch {
    return { text, valid: false };
  }
}

function badge(valid, finished) {
  const mark = document.createElement("span");
  mark.className = `badge ${valid ? "ok" : "bad"}`;
  mark.textContent = valid ? "valid JSON" : finished ? "not valid JSON" : "receiving…";
  return mark;
}

/** Show a structured answer: its JSON pretty-printed, with a badge when it parses. */
export function renderStructured(content, text, finished) {
  const shown = pretty(text);
  const block = document.createElement("div");
  block.className = "json-block";
  const pre = document.createElement("pre");
  const code = document.createElement("code");
  code.className = "json";
  code.textContent = shown.text;
  pre.append(code);
  block.append(badge(shown.valid, finished), pre);
  content.replaceChildren(block);
}

/** Show the tool calls of an answer, a card each, their arguments pretty-printed. */
export function renderToolCalls(holder, calls, finished) {
  const cards = calls.map((call) => {
    const card = document.createElement("section");
    card.className = "tool-call";
    const title = document.createElement("h4");
    title.append("Tool call: ");
    const name = document.createElement("code");
    name.className = "tool-name";
    name.textContent = call.name;
    title.append(name);
    const args = pretty(call.arguments || "{}");
    const pre = document.createElement("pre");
    const code = document.createElement("code");
    code.className = "tool-arguments";
    code.textContent = args.text;
    pre.append(code);
    const id = document.createElement("p");
    id.className = "tool-id muted";
    id.textContent = call.id ? `id ${call.id}` : "";
    card.append(title, badge(args.valid, finished), pre, id);
    return card;
  });
  holder.replaceChildren(...cards);
  holder.hidden = !calls.length;
}
