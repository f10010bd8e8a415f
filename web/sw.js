// Service worker: keeps the page usable offline once it has been loaded.
// Network first (a rebuilt web/pkg is picked up at once), the cache when the network fails.
// The page and the module are cached at install; a model's weights (pkg/models/<id>.bpk) when
// the page first fetches them, so every model picked once works offline.
const CACHE = 'gan-web-v2';
const FILES = ['./', 'index.html', 'app.js', 'style.css', 'pkg/gan_wasm.js', 'pkg/gan_wasm_bg.wasm'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  // Drop the caches of older versions of this worker.
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('gan-web-') && k !== CACHE)
      .map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(req, copy));
        }
        return res;
      })
      .catch(() => caches.match(req, { ignoreSearch: true }).then((hit) => hit || Response.error())),
  );
});
