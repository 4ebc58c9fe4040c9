// Calls to this server's own API (same origin), with the API key once the server asks.
//
// The page and its files load without a key. The first API call answered 401 opens the
// key dialog (one prompt, however many calls are waiting); the key is kept in
// sessionStorage, so it lasts for this browser session. A key the server refuses is
// dropped and asked for again, with the refusal shown.

const KEY = "rusty-genius.api-key";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

let askForKey = async () => null;
let asking = null;

/** Set the function that asks the person for a key: (error message) => key or null. */
export function setKeyPrompt(ask) {
  askForKey = ask;
}

function storedKey() {
  return sessionStorage.getItem(KEY);
}

/** The error message of a failed answer, in either API's error shape. */
export async function errorMessage(response) {
  let text = "";
  try {
    text = await response.text();
    const body = JSON.parse(text);
    const error = body.error;
    if (typeof error === "string") return error;
    if (error && typeof error.message === "string") return error.message;
  } catch {
    // not JSON: the text itself, or the status
  }
  return text || `${response.status} ${response.statusText}`;
}

async function keyAfterRefusal(sent) {
  const now = storedKey();
  if (now !== null && now !== sent) return now; // another call got a new key meanwhile
  if (sent !== null) sessionStorage.removeItem(KEY);
  if (asking === null) {
    const why = sent !== null ? "The server refused that API key." : "";
    asking = askForKey(why).finally(() => {
      asking = null;
    });
  }
  const key = await asking;
  if (key) sessionStorage.setItem(KEY, key);
  return key;
}

/** fetch(path) with the API key; on 401 asks for a key and tries again. */
export async function api(path, init = {}) {
  for (;;) {
    const sent = storedKey();
    const headers = new Headers(init.headers);
    if (sent !== null) headers.set("Authorization", `Bearer ${sent}`);
    const response = await fetch(path, { ...init, headers });
    if (response.status !== 401) return response;
    const message = await errorMessage(response);
    const key = await keyAfterRefusal(sent);
    if (!key) throw new ApiError(`${message} (no API key given)`, 401);
  }
}

/** api(), then the JSON body; a failed answer throws ApiError with the server's message. */
export async function apiJson(path, init = {}) {
  const response = await api(path, init);
  if (!response.ok) throw new ApiError(await errorMessage(response), response.status);
  return response.json();
}

/** A JSON POST. */
export function post(path, body, init = {}) {
  return api(path, {
    ...init,
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function* lines(response, separator) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const parts = buffer.split(separator);
      buffer = parts.pop();
      yield* parts;
    }
    if (buffer.trim()) yield buffer;
  } finally {
    reader.releaseLock();
  }
}

/** The JSON objects of an NDJSON body (Ollama's streams). */
export async function* ndjson(response) {
  for await (const line of lines(response, /\r?\n/)) {
    if (line.trim()) yield JSON.parse(line);
  }
}

/** The JSON data of a server-sent-events body (OpenAI's streams), up to [DONE]. */
export async function* sse(response) {
  for await (const block of lines(response, /\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""))
      .join("\n");
    if (!data) continue;
    if (data === "[DONE]") return;
    yield JSON.parse(data);
  }
}
