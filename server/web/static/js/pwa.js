// @ts-check
// The guide page as an installable app: its service worker keeps the app shell for when the hall's
// Wi-Fi drops (the page then opens from the cache and says that it is reconnecting).

export function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/guide" }).catch((error) => {
    console.warn("the offline copy of this page is not available:", error.message);
  });
}
