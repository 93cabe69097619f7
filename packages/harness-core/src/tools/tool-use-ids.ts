import type { ModelResponse } from "../model/index.js";

/** The answer as recorded, and each tool_use id it renamed (from, to), in block order. */
export interface UniqueToolUseIds {
  readonly response: ModelResponse;
  readonly renamed: ReadonlyArray<readonly [from: string, to: string]>;
}

/**
 * The model's answer with every tool_use id unique in the session: a block
 * whose id an earlier block of the answer, or an earlier turn (`taken`), already
 * used gets a fresh one (`<id>_2`, `<id>_3`, ...).
 *
 * An endpoint that repeats an id (a faulty or hostile Anthropic-compatible one)
 * would otherwise break the session for good: calls are paired with their
 * intents and results by id, so the repeated call never gets a result and is
 * started again on every run, and the Messages API refuses a conversation with
 * two tool_use blocks of one id. Refusing such an answer would leave the turn
 * to be asked again, at the price of a model request, from an endpoint likely
 * to answer the same way. Renaming keeps the session alive: the id is only the
 * name under which a call and its result are paired, nothing the model reasons
 * about, and the renamed answer is what the log records, so every replica, and
 * the model in the next request, sees the same ids. The calls keep their order,
 * names and inputs.
 */
export function uniqueToolUseIds(response: ModelResponse, taken: (id: string) => boolean): UniqueToolUseIds {
  const used = new Set<string>();
  const renamed: Array<readonly [string, string]> = [];
  const isTaken = (id: string) => used.has(id) || taken(id);
  const content = response.content.map((block) => {
    if (block.type !== "tool_use") return block;
    if (!isTaken(block.id)) {
      used.add(block.id);
      return block;
    }
    let n = 2;
    while (isTaken(`${block.id}_${n}`)) n++;
    const id = `${block.id}_${n}`;
    used.add(id);
    renamed.push([block.id, id]);
    return { ...block, id };
  });
  return { response: renamed.length > 0 ? { ...response, content } : response, renamed };
}
