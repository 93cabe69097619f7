/** What a capped label becomes once its room is used up, or when the value is not allowed. */
export const otherLabel = "other";

export interface LabelCapOptions {
  /** Distinct values kept before the rest become "other". */
  readonly max: number;
  /** When given and not empty, only these values are kept (and `max` still bounds them). */
  readonly allow?: readonly string[];
}

/**
 * Bounds a label's cardinality: each time series costs Prometheus memory for as
 * long as it is retained, so a label fed by callers (a tenant, a model name)
 * keeps the first `max` distinct values it sees and folds the rest into
 * "other". An empty value stays as it is ("no tenant" is one value).
 */
export function createLabelCap(options: LabelCapOptions): (value: string) => string {
  const allow = options.allow && options.allow.length > 0 ? new Set(options.allow) : undefined;
  const seen = new Set<string>();
  return (value) => {
    if (allow && !allow.has(value)) return otherLabel;
    if (seen.has(value)) return value;
    if (seen.size >= options.max) return otherLabel;
    seen.add(value);
    return value;
  };
}
