// One streamed answer from /v1/chat/completions, with its thinking apart and its usage.

import { ApiError, errorMessage, post, sse } from "./api.js";

/** The request body for a conversation (its system prompt and sampling settings). */
export function chatRequest(conversation) {
  const messages = [];
  if (conversation.system.trim()) {
    messages.push({ role: "system", content: conversation.system });
  }
  for (const m of conversation.messages) {
    if (m.error || (m.role === "assistant" && !m.content)) continue;
    messages.push({ role: m.role, content: m.content });
  }
  const body = {
    model: conversation.model,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  };
  if (conversation.temperature !== null) body.temperature = conversation.temperature;
  if (conversation.maxTokens !== null) body.max_completion_tokens = conversation.maxTokens;
  return body;
}

/**
 * Stream an answer into `answer` ({content, thinking, usage, stopped, error}), calling
 * `changed()` after each piece. Aborting `signal` (Stop) closes the request, which
 * makes the server cancel it.
 */
export async function streamAnswer(conversation, answer, signal, changed) {
  const started = performance.now();
  let first = null;
  try {
    const response = await post("/v1/chat/completions", chatRequest(conversation), { signal });
    if (!response.ok) throw new ApiError(await errorMessage(response), response.status);
    for await (const chunk of sse(response)) {
      if (chunk.error) {
        throw new ApiError(chunk.error.message ?? String(chunk.error), chunk.error.code);
      }
      const delta = chunk.choices?.[0]?.delta ?? {};
      const piece = (delta.content ?? "") + (delta.reasoning_content ?? "");
      if (piece && first === null) first = performance.now();
      if (delta.reasoning_content) answer.thinking += delta.reasoning_content;
      if (delta.content) answer.content += delta.content;
      const finish = chunk.choices?.[0]?.finish_reason;
      if (finish) answer.finish = finish;
      if (chunk.usage) {
        const ended = performance.now();
        const decoding = first === null ? 0 : (ended - first) / 1000;
        const tokens = chunk.usage.completion_tokens;
        answer.usage = {
          prompt: chunk.usage.prompt_tokens,
          completion: tokens,
          ttft: first === null ? null : first - started,
          tps: decoding > 0 && tokens > 1 ? (tokens - 1) / decoding : null,
        };
      }
      if (piece || chunk.usage || finish) changed();
    }
  } catch (error) {
    if (signal.aborted) {
      answer.stopped = true;
      answer.usage = { ttft: first === null ? null : first - started };
    } else {
      answer.error = error instanceof Error ? error.message : String(error);
    }
    changed();
  }
}
