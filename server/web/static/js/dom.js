// @ts-check
// Small DOM helpers: build elements, and update keyed lists in place (no flicker, focus kept).

/** ``h("p", { class: "x", dataset: { id: 1 } }, "text", child)`` */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** Set ``el.textContent`` only when it changes (keeps screen readers and layout calm). */
export function setText(el, text) {
  const value = String(text);
  if (el && el.textContent !== value) el.textContent = value;
}

/**
 * Make ``container``'s children match ``items`` in order, reusing the element of each key.
 * ``create(item)`` makes a new element, ``update(el, item)`` fills it; elements whose key is gone
 * are removed. Elements that stay keep their focus and state.
 */
export function syncList(container, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of container.children) existing.set(child.dataset.key, child);
  let cursor = container.firstElementChild;
  const keep = new Set();
  for (const item of items) {
    const key = String(keyOf(item));
    keep.add(key);
    let el = existing.get(key);
    if (!el) {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const [key, el] of existing) if (!keep.has(key)) el.remove();
}
