// A strict little XML parser for checking chart SVGs in tests: it throws on anything that is
// not well-formed (unclosed or mismatched tags, unquoted attributes, bare '&' or '<'), and
// gives a tree to count and measure marks in.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** Text directly inside this element, entities decoded. */
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(raw: string, where: number): string {
  if (/<|&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i.test(raw)) {
    throw new Error(`svg-tree: bare '<' or '&' near offset ${where}: ${raw.slice(0, 60)}`);
  }
  return raw.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : ENTITIES[e],
  );
}

/** Parses one XML document (an optional <?xml?> prolog, then one root element). */
export function parseXml(source: string): XmlElement {
  const token = /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<\/([A-Za-z][\w:.-]*)\s*>|<([A-Za-z][\w:.-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  const attribute = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  for (const m of source.matchAll(token)) {
    const [, closeName, openName, attrs, selfClosing, text, stray] = m;
    const at = m.index ?? 0;
    if (stray) throw new Error(`svg-tree: malformed tag at offset ${at}: ${source.slice(at, at + 60)}`);
    if (text !== undefined) {
      if (stack.length === 0) {
        if (text.trim()) throw new Error(`svg-tree: text outside the root element at offset ${at}`);
        continue;
      }
      stack[stack.length - 1].text += decode(text, at);
      continue;
    }
    if (closeName) {
      const open = stack.pop();
      if (!open || open.name !== closeName) {
        throw new Error(`svg-tree: </${closeName}> at offset ${at} closes <${open?.name ?? 'nothing'}>`);
      }
      continue;
    }
    if (!openName) continue; // prolog or comment
    const element: XmlElement = { name: openName, attributes: {}, children: [], text: '' };
    for (const a of (attrs ?? '').matchAll(attribute)) {
      if (a[1] in element.attributes) throw new Error(`svg-tree: duplicate attribute ${a[1]} at offset ${at}`);
      element.attributes[a[1]] = decode(a[2] ?? a[3] ?? '', at);
    }
    if (stack.length > 0) stack[stack.length - 1].children.push(element);
    else if (root) throw new Error(`svg-tree: second root element <${openName}> at offset ${at}`);
    else root = element;
    if (!selfClosing) stack.push(element);
  }
  if (stack.length > 0) throw new Error(`svg-tree: <${stack[stack.length - 1].name}> is never closed`);
  if (!root) throw new Error('svg-tree: no root element');
  return root;
}

/** Every element in the tree, depth first. */
export function allElements(root: XmlElement): XmlElement[] {
  return [root, ...root.children.flatMap(allElements)];
}

/** Elements whose class attribute contains every one of `classes`. */
export function byClass(root: XmlElement, ...classes: string[]): XmlElement[] {
  return allElements(root).filter((e) => {
    const own = (e.attributes.class ?? '').split(/\s+/);
    return classes.every((c) => own.includes(c));
  });
}

/**
 * The items of the named Vega-Lite mark layer (`name: 'cells'` → group class 'cells_marks'):
 * the children of every matching mark group (a layer split by series has one group per series).
 */
export function markItems(root: XmlElement, layerName: string): XmlElement[] {
  return byClass(root, 'role-mark', `${layerName}_marks`).flatMap((g) => g.children);
}

/** All text under `element`, concatenated in document order. */
export function textContent(element: XmlElement): string {
  return element.text + element.children.map(textContent).join('');
}

/** The texts of every <text> element under `root`. */
export function texts(root: XmlElement): string[] {
  return allElements(root).filter((e) => e.name === 'text').map(textContent);
}

/** translate(x,y) of an element's transform attribute. */
export function translation(element: XmlElement): [number, number] {
  const m = (element.attributes.transform ?? '').match(/translate\(([-\d.e]+),\s*([-\d.e]+)\)/);
  if (!m) throw new Error(`svg-tree: <${element.name}> has no translate() transform`);
  return [Number(m[1]), Number(m[2])];
}
