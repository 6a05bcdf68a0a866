/** Progress of an evaluation or application run: units done of total, and what is being done. */
export interface EvaluationProgress {
  done: number;
  total: number;
  message: string;
}
