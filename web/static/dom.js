// Small DOM helpers shared by the UI modules.

/**
 * el builds an element. props are set as properties when the element has them (className,
 * type, value, onclick …), `dataset` is merged into data-* attributes, anything else
 * (aria-*, role, for …) becomes an attribute. Children are nodes or text, never parsed as
 * HTML; '', null, undefined and false are skipped.
 */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== '' && c != null && c !== false) e.append(c);
  return e;
}
