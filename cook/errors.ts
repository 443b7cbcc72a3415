// Errors carry a stable code and the exit status cook ends with.
// 78 is EX_CONFIG from sysexits(3): "something was found in an unconfigured or misconfigured state".

export type ErrorCode = 'PARAM_INVALID' | 'USAGE' | 'CHECK_FAILED' | 'APPLY_FAILED' | 'SERVICE_FAILED'

export const EXIT: Record<ErrorCode, number> = {
  PARAM_INVALID: 78,
  USAGE: 64,
  CHECK_FAILED: 65,
  APPLY_FAILED: 73,
  SERVICE_FAILED: 69,
}

/** One problem with one parameter: printed as `NAME: message`. */
export interface Problem {
  name: string
  message: string
}

export class CookError extends Error {
  readonly code: ErrorCode
  readonly problems: Problem[]

  constructor(code: ErrorCode, message: string, problems: Problem[] = []) {
    super(message)
    this.name = 'CookError'
    this.code = code
    this.problems = problems
  }

  get exitCode(): number {
    return EXIT[this.code]
  }

  /** Every line the user sees on stderr. */
  lines(): string[] {
    return this.problems.length > 0 ? this.problems.map((p) => `${p.name}: ${p.message}`) : [this.message]
  }
}

export class ParamError extends CookError {
  constructor(problems: Problem[]) {
    super('PARAM_INVALID', `${problems.length} invalid parameter(s)`, problems)
  }
}
