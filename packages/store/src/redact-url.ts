/** A connection URL fit for messages and logs: its password (if any) replaced by `***`. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(unparseable URL)';
  }
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}
