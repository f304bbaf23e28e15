// Errors the library throws on purpose, by class, so that callers decide by type (never by message) what to
// do with them: an InvalidInputError fails the same way on every retry; a DivergenceError is a property of the
// hyperparameters and the data, not of the machine.
//   InvalidInputError: a spec, name or hyperparameter the library cannot take (subclasses say which).
//   UnknownAlgorithmError, InvalidHparamsError: an algorithm name or its hyperparameters (ml/unlearn/registry.ts).
//   DivergenceError: a non-finite batch loss (ml/train.ts and the unlearning loops); the weights are the last good ones.
//   CancelledError: the loop driver's AbortSignal was aborted (ml/driver.ts); the model is at the last completed step.

/** The caller's input (a spec, a name, a hyperparameter) is invalid: the same call fails again. */
export class InvalidInputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidInputError';
  }
}

export class UnknownAlgorithmError extends InvalidInputError {
  constructor(readonly algorithm: string, known: readonly string[]) {
    super(`unknown unlearning algorithm '${algorithm}'; known: ${known.join(', ')}`);
    this.name = 'UnknownAlgorithmError';
  }
}

export class InvalidHparamsError extends InvalidInputError {
  constructor(readonly algorithm: string, readonly problems: string[]) {
    super(`invalid hyperparameters: ${problems.join('; ')}`);
    this.name = 'InvalidHparamsError';
  }
}

/** A driven loop stopped because its AbortSignal was aborted (ml/driver.ts). */
export class CancelledError extends Error {
  constructor(readonly reason?: unknown) {
    super(`cancelled${reason instanceof Error ? `: ${reason.message}` : typeof reason === 'string' ? `: ${reason}` : ''}`);
    this.name = 'CancelledError';
  }
}

export class DivergenceError extends Error {
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly loss: number,
  ) {
    super(`training diverged: loss ${loss} at epoch ${epoch}, step ${step} (weights are those before this step)`);
    this.name = 'DivergenceError';
  }
}
