import { toError } from "./api.js";

// Server-Sent Events over fetch(): EventSource cannot send an Authorization header. Parses the
// stream itself and reconnects after a drop with Last-Event-ID, so no event is missed or repeated.

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export function parseSse(onEvent, onRetry = () => {}) {
  let buffer = "";
  let event = { id: null, event: "message", data: [] };
  const dispatch = () => {
    if (event.data.length) {
      onEvent({ id: event.id, event: event.event, data: event.data.join("\n") });
    }
    event = { id: null, event: "message", data: [] };
  };
  return (chunk) => {
    buffer += chunk;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === "") {
        dispatch();
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") event.data.push(value);
      else if (field === "event") event.event = value;
      else if (field === "id") event.id = value;
      else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
    }
  };
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

// Follows a task's events until its terminal event (or `signal` aborts). onEvent gets
// {id, event, data (parsed JSON)}; onState gets "connecting" | "live" | "reconnecting" |
// "ended" | "error" (with the error). With `replayOnly` (a task already finished) the stream's
// end is final even without a terminal event (its event log may have been swept).
export async function followTask(api, taskId, { onEvent, onState, signal, replayOnly = false }) {
  let lastId = null;
  let hint = 500; // the server's `retry:` advice, in ms
  let delay = hint;
  while (!signal.aborted) {
    let finished = false;
    try {
      onState(lastId === null ? "connecting" : "reconnecting");
      const headers = { Accept: "text/event-stream" };
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      const response = await api.raw(`/r/tasks/${encodeURIComponent(taskId)}/events`, {
        headers,
        signal,
        cache: "no-store",
      });
      if (!response.ok) {
        const error = await toError(response);
        if (response.status < 500 && response.status !== 429) {
          onState("error", error);
          return;
        }
        throw error;
      }
      onState("live");
      delay = hint;
      const feed = parseSse((raw) => {
        if (raw.id !== null) lastId = raw.id;
        let data = null;
        try {
          data = JSON.parse(raw.data);
        } catch {
          data = raw.data;
        }
        if (TERMINAL.has(raw.event)) finished = true;
        onEvent({ id: raw.id, event: raw.event, data });
      }, (ms) => {
        hint = Math.min(Math.max(ms, 100), 30000);
        delay = hint;
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        feed(value);
      }
    } catch (error) {
      if (signal.aborted) return;
    }
    if (finished || replayOnly) {
      onState("ended");
      return;
    }
    if (signal.aborted) return;
    onState("reconnecting");
    await sleep(delay, signal);
    delay = Math.min(delay * 2, Math.max(hint, 10000));
  }
}
