/** OIDs of the 64-bit integer types, identical on every PostgreSQL. */
export const INT8_OID = 20;
export const INT8_ARRAY_OID = 1016;

/** An int8 value that JavaScript's `number` cannot hold exactly. */
export class Int8OutOfRangeError extends RangeError {
  readonly code = 'POSTGRES_INT8_OUT_OF_RANGE';
  constructor(readonly text: string) {
    super(`int8 value ${text} is beyond Number.MAX_SAFE_INTEGER; cast it to text in SQL to read it`);
  }
}

/**
 * Parses the text form of an int8 into a `number`, refusing values that would
 * silently lose precision (see docs/adr/0003-postgres-access.md).
 *
 * @example
 * parseInt8('42'); // 42
 */
export function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Int8OutOfRangeError(text);
  return value;
}
