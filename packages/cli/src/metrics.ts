/** Counters exposed in Prometheus text format (names `parley_<module>_<what>_<unit>`). */
export class Metrics {
  readonly #counters = new Map<string, number>();

  /** Adds `by` to counter `name`. */
  inc(name: string, by = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + by);
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  render(): string {
    let out = '';
    for (const [name, value] of [...this.#counters].sort(([a], [b]) => a.localeCompare(b))) {
      out += `# TYPE ${name} counter\n${name} ${value}\n`;
    }
    return out;
  }
}
