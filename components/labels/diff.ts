/** Word-level diff (longest common subsequence over words and the spaces between them). Pure; no DOM. */
export interface DiffPart {
  op: "same" | "add" | "del";
  text: string;
}

const tokens = (s: string) => s.match(/\s+|[^\s]+/g) ?? [];

/** Parts that turn `before` into `after`; adjacent parts of one kind are merged. Long texts fall back to whole-text replace. */
export function diffWords(before: string, after: string): DiffPart[] {
  const a = tokens(before);
  const b = tokens(after);
  const out: DiffPart[] = [];
  const push = (op: DiffPart["op"], text: string) => {
    const last = out[out.length - 1];
    if (last && last.op === op) last.text += text;
    else out.push({ op, text });
  };
  if (a.length * b.length > 4_000_000) {
    if (before) push("del", before);
    if (after) push("add", after);
    return before === after ? [{ op: "same", text: before }] : out;
  }
  // dp[i][j] = LCS length of a[i..] and b[j..]
  const w = b.length + 1;
  const dp = new Uint32Array((a.length + 1) * w);
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      dp[i * w + j] = a[i] === b[j] ? dp[(i + 1) * w + j + 1]! + 1 : Math.max(dp[(i + 1) * w + j]!, dp[i * w + j + 1]!);
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      push("same", a[i]!);
      i++;
      j++;
    } else if (dp[(i + 1) * w + j]! >= dp[i * w + j + 1]!) push("del", a[i++]!);
    else push("add", b[j++]!);
  }
  while (i < a.length) push("del", a[i++]!);
  while (j < b.length) push("add", b[j++]!);
  return out;
}
