/** CNI errors: the well-known codes and an Error that carries them. Pure. */

export const ErrorCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  io: 5,
  decoding: 6,
  invalidNetworkConfig: 7,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
  limitedConnectivity: 51,
} as const;

/** An error in the CNI wire shape {code, msg, details}. */
export class CniError extends Error {
  readonly code: number;
  readonly msg: string;
  readonly details: string | undefined;
  constructor(code: number, msg: string, details?: string) {
    super(details ? `${msg}: ${details}` : msg);
    this.name = "CniError";
    this.code = code;
    this.msg = msg;
    this.details = details;
  }

  toJSON(cniVersion = "1.1.0"): Record<string, unknown> {
    const out: Record<string, unknown> = { cniVersion, code: this.code, msg: this.msg };
    if (this.details !== undefined) out.details = this.details;
    return out;
  }
}

/** A bad config field: the message names the field and what was expected. */
export function configError(field: string, problem: string): CniError {
  return new CniError(ErrorCode.invalidNetworkConfig, `${field}: ${problem}`);
}

/** Turns anything thrown into a CniError (unknown failures become I/O errors, code 5). */
export function asCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  return new CniError(ErrorCode.io, e instanceof Error ? e.message : String(e));
}
