// The model picker (/v1/models), the pull box (/api/pull) and the loaded models (/api/ps).

import { ApiError, apiJson, errorMessage, ndjson, post } from "./api.js";
import { bytes, expiry, seconds } from "./format.js";

const $ = (id) => document.getElementById(id);

export async function loadModelList() {
  const listed = await apiJson("/v1/models");
  const names = listed.data.map((m) => m.id).sort();
  const options = names.map((name) => {
    const option = document.createElement("option");
    option.value = name;
    return option;
  });
  $("model-list").replaceChildren(...options);
  return names;
}

/** Speed and ETA of one file's download, from the bytes seen so far. */
class Rate {
  constructor(done) {
    this.startBytes = done;
    this.startTime = performance.now();
  }

  describe(done, total) {
    const elapsed = (performance.now() - this.startTime) / 1000;
    const speed = elapsed > 0 ? (done - this.startBytes) / elapsed : 0;
    const eta = speed > 0 ? (total - done) / speed : Infinity;
    return speed > 0 ? `${bytes(speed)}/s, ETA ${seconds(eta)}` : "starting…";
  }
}

/** Pull `reference`, showing the progress of each file. Returns true on success. */
export async function pull(reference) {
  const bar = $("pull-progress");
  const label = $("pull-label");
  $("pull-status").hidden = false;
  bar.max = 1;
  bar.value = 0;
  label.textContent = `Pulling ${reference}…`;
  const rates = new Map();
  let shown = "";
  try {
    const response = await post("/api/pull", { model: reference, stream: true });
    if (!response.ok) throw new ApiError(await errorMessage(response), response.status);
    for await (const line of ndjson(response)) {
      if (line.error) throw new ApiError(line.error, 502);
      if (line.status === "success") {
        bar.value = bar.max;
        label.textContent = `Pulled ${reference}: 100 %${shown ? ` (${shown})` : ""}`;
        return true;
      }
      if (line.total > 0) {
        if (!rates.has(line.digest)) rates.set(line.digest, new Rate(line.completed));
        bar.max = line.total;
        bar.value = line.completed;
        const percent = Math.floor((100 * line.completed) / line.total);
        shown = `${bytes(line.completed)} / ${bytes(line.total)}`;
        const rate = rates.get(line.digest).describe(line.completed, line.total);
        label.textContent = `${line.digest}: ${percent} %, ${shown}, ${rate}`;
      } else {
        label.textContent = line.status;
      }
    }
    throw new ApiError("the pull ended without success", 502);
  } catch (error) {
    label.textContent = `Pull failed: ${error.message}`;
    label.classList.add("error");
    return false;
  } finally {
    if (label.textContent.startsWith("Pulled")) label.classList.remove("error");
  }
}

export async function refreshLoaded(onUnload) {
  const running = await apiJson("/api/ps");
  const items = running.models.map((m) => {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "ps-name";
    name.textContent = m.name;
    const facts = document.createElement("span");
    facts.className = "ps-facts";
    const time = document.createElement("time");
    time.dateTime = m.expires_at;
    time.title = `expires at ${m.expires_at}`;
    time.textContent = expiry(m.expires_at);
    facts.append(`${m.size ? bytes(m.size) : "size unknown"} · `, time);
    const unload = document.createElement("button");
    unload.type = "button";
    unload.textContent = "Unload";
    unload.setAttribute("aria-label", `Unload ${m.name}`);
    unload.addEventListener("click", () => onUnload(m.name));
    item.append(name, facts, unload);
    return item;
  });
  $("ps-list").replaceChildren(...items);
  $("ps-empty").hidden = items.length > 0;
}

/** Unload a model now, as `ollama stop` does: keep_alive 0. */
export async function unload(model) {
  const response = await post("/api/generate", { model, keep_alive: 0 });
  if (!response.ok) throw new ApiError(await errorMessage(response), response.status);
}

/** Update the "in N min" texts of the loaded models without asking the server. */
export function tickExpiry() {
  for (const time of document.querySelectorAll("#ps-list time")) {
    time.textContent = expiry(time.dateTime);
  }
}
