import { ModelAbortedError, ModelError } from "../errors.js";
import type { HarnessMetrics } from "../harness-metrics.js";
import type { ModelAdapter } from "./model.js";

/**
 * The model of one run, reporting every request (the turn's and a compaction's
 * summary alike) with the session's tenant, which the request itself does not
 * carry: cost per tenant is counted where the tenant is known.
 */
export function observedModel(model: ModelAdapter, metrics: HarnessMetrics, tenant: string): ModelAdapter {
  const observed: ModelAdapter = {
    async stream(request, options) {
      try {
        const response = await model.stream(request, options);
        metrics.modelRequest(request.model, "ok", response, tenant);
        return response;
      } catch (err) {
        if (err instanceof ModelError) metrics.modelRequest(request.model, err.kind, err.stats, tenant);
        else if (err instanceof ModelAbortedError) metrics.modelRequest(request.model, "aborted", undefined, tenant);
        else metrics.modelRequest(request.model, "failed", undefined, tenant);
        throw err;
      }
    },
  };
  if (model.countTokens) observed.countTokens = model.countTokens.bind(model);
  return observed;
}
