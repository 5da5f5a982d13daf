/** Counters exposed in Prometheus text format (names `parley_<module>_<what>_<unit>`). */
export class Metrics {
  /** Counter family → series (the rendered label set, `''` for none) → value. */
  readonly #counters = new Map<string, Map<string, number>>();

  /** Adds `by` to counter `name` with `labels` (values escaped as the text format requires). */
  inc(name: string, by = 1, labels: Readonly<Record<string, string>> = {}): void {
    const series = Object.entries(labels)
      .map(
        ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
      )
      .join(',');
    let family = this.#counters.get(name);
    if (family === undefined) this.#counters.set(name, (family = new Map<string, number>()));
    family.set(series, (family.get(series) ?? 0) + by);
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  render(): string {
    let out = '';
    for (const [name, family] of [...this.#counters].sort(([a], [b]) => a.localeCompare(b))) {
      out += `# TYPE ${name} counter\n`;
      for (const [series, value] of [...family].sort(([a], [b]) => a.localeCompare(b))) {
        out += `${name}${series === '' ? '' : `{${series}}`} ${value}\n`;
      }
    }
    return out;
  }
}
