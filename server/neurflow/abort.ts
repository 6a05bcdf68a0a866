/** Cancellation: long engine runs stop between units of work with an error named "AbortError". */
export function abortError(message = "canceled"): Error {
  const e = new Error(message);
  e.name = "AbortError";
  return e;
}

export function throwIfAborted(signal?: AbortSignal, message?: string): void {
  if (signal?.aborted) throw abortError(message);
}
