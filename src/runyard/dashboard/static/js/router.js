// Pages live in the URL's fragment (#/tasks/<id>?status=running): the server serves one page.
import { useEffect, useState } from "../vendor/preact-htm.js";

export function parseRoute(hash) {
  const text = (hash || "").replace(/^#/, "");
  if (!text.startsWith("/")) return null; // "#main" and other in-page anchors are not routes
  const [path, search = ""] = text.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(search) };
}

export function href(path, params) {
  const search = params ? new URLSearchParams(params).toString() : "";
  return "#" + path + (search ? "?" + search : "");
}

export function navigate(path, params) {
  window.location.hash = href(path, params).slice(1);
}

// The page's own path when the fragment names no page: /pair?user_code=… opens the pairing form.
function fromPath() {
  if (window.location.pathname === "/pair") {
    return { parts: ["pair"], params: new URLSearchParams(window.location.search) };
  }
  return { parts: [], params: new URLSearchParams() };
}

export function useRoute() {
  const current = () => parseRoute(window.location.hash) || fromPath();
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const onChange = () => {
      if (parseRoute(window.location.hash)) setRoute(current());
    };
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
