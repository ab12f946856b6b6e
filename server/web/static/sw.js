// The floor guide page's service worker (served at /sw.js, controlling /guide).
//
// It keeps the app shell (the page, its styles, modules and icons) so that the page opens even when
// the hall's Wi-Fi is down; the page itself then shows "connection lost — reconnecting". Everything
// is network-first: online, people always get the current files; the API and the live stream are
// never cached.

const CACHE = "hallwatch-guide-v1";
const SHELL = [
  "/static/css/base.css",
  "/static/css/guide.css",
  "/static/js/guide.js",
  "/static/js/api.js",
  "/static/js/live.js",
  "/static/js/alert-book.js",
  "/static/js/alert-signal.js",
  "/static/js/dom.js",
  "/static/js/format.js",
  "/static/js/pwa.js",
  "/static/js/shell.js",
  "/static/js/zones.js",
  "/static/js/mini-plan.js",
  "/static/icons/hallwatch.svg",
  "/static/icons/hallwatch-maskable.svg",
  "/static/icons/sound-on.svg",
  "/static/icons/sound-off.svg",
  "/static/icons/check.svg",
  "/manifest.webmanifest",
];
const PAGE = "/guide";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("hallwatch-guide") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request, cacheKey) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected && response.type === "basic") {
      await cache.put(cacheKey, response.clone());
    }
    return response;
  } catch (error) {
    const cached = await cache.match(cacheKey, { ignoreSearch: true });
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(networkFirst(request, PAGE));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname));
  }
});
