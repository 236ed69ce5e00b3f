/**
 * Reads the XML AWS's query and EC2 protocols answer with: elements, attributes, text and the five
 * predefined entities (and numeric references). Enough for checking answers against a model; it
 * refuses anything malformed instead of guessing, since a malformed answer is itself a finding.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

const decode = (s: string) =>
  s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, ref: string) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(Number(ref.slice(1)));
    const e = ENTITIES[ref];
    if (e === undefined) throw new Error(`unknown entity ${whole}`);
    return e;
  });

const TOKEN =
  /<\?[^?]*\?>|<!--[\s\S]*?-->|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/gy;
const ATTR = /([\w:.-]+)="([^"]*)"/g;

export function readXml(xml: string): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < xml.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(xml);
    if (!m) throw new Error(`malformed XML at offset ${at}: ${xml.slice(at, at + 40)}`);
    const [, close, open, attrText, selfClose, text] = m;
    if (text !== undefined) {
      const top = stack.at(-1);
      if (top) top.text += decode(text);
      else if (text.trim()) throw new Error(`text outside the root element: ${text.slice(0, 40)}`);
    } else if (open !== undefined) {
      const attrs: Record<string, string> = {};
      for (const a of (attrText ?? "").matchAll(ATTR)) attrs[a[1]!] = decode(a[2]!);
      const el: XmlElement = { name: open, attrs, children: [], text: "" };
      const parent = stack.at(-1);
      if (parent) parent.children.push(el);
      else if (root) throw new Error("a second root element");
      else root = el;
      if (!selfClose) stack.push(el);
    } else if (close !== undefined) {
      const top = stack.pop();
      if (top?.name !== close) throw new Error(`</${close}> closes <${top?.name ?? "nothing"}>`);
    }
  }
  if (stack.length) throw new Error(`<${stack.at(-1)!.name}> is never closed`);
  if (!root) throw new Error("no root element");
  return root;
}
