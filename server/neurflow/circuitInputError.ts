/**
 * A circuit request the engine refuses for what it asks (class, layers, τ, k, N, images), not for
 * a failure of the machine: running it again gives the same answer, so a caller should not retry.
 */
export class CircuitInputError extends Error {
  override name = "CircuitInputError";
}
