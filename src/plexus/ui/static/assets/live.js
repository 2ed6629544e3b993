// The admin API's stream of finished requests, followed with fetch() so that it carries the
// Bearer key; reconnects with a growing pause when the connection drops.

import { send } from "./api.js";
import { readEvents } from "./sse.js";

const PAUSES = [1000, 2000, 5000, 10000];

/**
 * Follow `/v0/admin/events`: `onRecord(record)` for each finished request, `onDropped(n)` when
 * n were skipped, `onState(state)` with connecting, live or retrying. Returns a function that
 * stops following.
 */
export function followEvents({ signal, onRecord, onDropped, onState }) {
  const stop = new AbortController();
  signal?.addEventListener("abort", () => stop.abort());
  let failures = 0;

  const connect = async () => {
    onState("connecting");
    try {
      const response = await send("/events", { signal: stop.signal, headers: { accept: "text/event-stream" } });
      onState("live");
      failures = 0;
      await readEvents(response, ({ event, data }) => {
        if (event !== "request" && event !== "message" && event !== "dropped") return;
        try {
          const value = JSON.parse(data);
          // `dropped`: the server skipped records because this reader fell behind.
          if (event === "dropped") onDropped?.(value.dropped);
          else onRecord(value);
        } catch (error) {
          console.warn("unreadable event", error);
        }
      });
    } catch (error) {
      if (stop.signal.aborted || error.status === 401 || error.status === 404) return;
    }
    if (stop.signal.aborted) return;
    onState("retrying");
    setTimeout(connect, PAUSES[Math.min(failures++, PAUSES.length - 1)]);
  };
  connect();
  return () => stop.abort();
}
