// Bounds the registry puts on an executor's labels (ExecutorInfo.labels): a
// selector beyond them could match no executor, and is refused as a mistake.
const maxLabels = 64;
const maxValueChars = 256;
const labelKeyPattern = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;

/** What is wrong with an AgentConfig.executor_selector, or "" when nothing is. */
export function selectorProblem(selector: Readonly<Record<string, string>>): string {
  const entries = Object.entries(selector);
  if (entries.length > maxLabels) {
    return `config.executor_selector has ${entries.length} labels, over the maximum of ${maxLabels}`;
  }
  for (const [key, value] of entries) {
    if (!labelKeyPattern.test(key)) {
      return `config.executor_selector key ${JSON.stringify(key.slice(0, 80))} is invalid: use 1-63 characters from A-Z a-z 0-9 _ . / -, starting with a letter or digit`;
    }
    if (value.length > maxValueChars) {
      return `config.executor_selector[${JSON.stringify(key)}] is longer than ${maxValueChars} characters`;
    }
  }
  return "";
}
