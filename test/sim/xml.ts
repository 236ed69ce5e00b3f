/**
 * A tiny XML writer for AWS query-protocol responses. Objects become elements in key order, arrays
 * become repeated `<member>` (query) or `<item>` (EC2) children, and undefined values are left out,
 * as AWS leaves out absent optional fields.
 */
export type XmlValue = string | number | boolean | Date | undefined | null | XmlValue[] | XmlObject;
export interface XmlObject {
  [key: string]: XmlValue;
}

const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const scalar = (value: string | number | boolean | Date) =>
  value instanceof Date ? value.toISOString() : escapeXml(String(value));

export function toXml(name: string, value: XmlValue, listItem = "member"): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) {
    return `<${name}>${value.map((v) => toXml(listItem, v, listItem)).join("")}</${name}>`;
  }
  if (typeof value === "object" && !(value instanceof Date)) {
    const children = Object.entries(value)
      .map(([k, v]) => toXml(k, v, listItem))
      .join("");
    return `<${name}>${children}</${name}>`;
  }
  return `<${name}>${scalar(value)}</${name}>`;
}

export function queryResponse(
  action: string,
  xmlns: string,
  result: XmlObject | undefined,
  requestId: string,
) {
  const body = result === undefined ? "" : toXml(`${action}Result`, result);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${xmlns}">${body}` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

export function queryError(
  xmlns: string,
  type: "Sender" | "Receiver",
  code: string,
  message: string,
  requestId: string,
) {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${xmlns}"><Error><Type>${type}</Type>` +
    `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>` +
    `<RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}

/** EC2 speaks its own dialect: lowerCamel element names, `<item>` lists, requestId first. */
export function ec2Response(action: string, xmlns: string, result: XmlObject, requestId: string) {
  const children = Object.entries(result)
    .map(([k, v]) => toXml(k, v, "item"))
    .join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${xmlns}"><requestId>${requestId}</requestId>${children}</${action}Response>`;
}

export function ec2Error(code: string, message: string, requestId: string) {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code>` +
    `<Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`
  );
}
