// The member page's service worker (served as /sw.js, scope /): it shows each push as a
// notification, and a click on one brings the member page forward. A push's data is the
// JSON backend/push/web_push.py encrypts: {kind, title, body, tag, data}.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

function parsed(event) {
  if (!event.data) return null;
  try {
    return event.data.json();
  } catch {
    return { title: 'Astrocoffee', body: event.data.text() };
  }
}

self.addEventListener('push', (event) => {
  const message = parsed(event);
  if (!message) return;
  event.waitUntil(
    self.registration
      .showNotification(message.title || 'Astrocoffee', {
        body: message.body || '',
        // One notification per tag: a retried delivery replaces, never doubles.
        tag: message.tag || undefined,
        icon: '/static/favicon.svg',
        data: { kind: message.kind, ...(message.data || {}) },
      })
      .then(() => self.clients.matchAll({ type: 'window', includeUncontrolled: true }))
      .then((pages) => pages.forEach((page) => page.postMessage({ type: 'push.shown', message }))),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((pages) => {
      const open = pages.find((page) => new URL(page.url).pathname === '/');
      return open ? open.focus() : self.clients.openWindow('/');
    }),
  );
});
