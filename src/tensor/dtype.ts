// Element types. The numeric codes index the kDtypes table in native/basin.cc.

export type DType = 'f32' | 'f64' | 'f16' | 'bf16' | 'i64' | 'i32' | 'u8' | 'bool' | 'i16' | 'i8';

interface DTypeInfo {
  code: number;
  bytes: number;
  floating: boolean;
  /** safetensors' name for the type */
  safetensors: string;
}

export const DTYPES: Record<DType, DTypeInfo> = {
  f32: { code: 0, bytes: 4, floating: true, safetensors: 'F32' },
  f64: { code: 1, bytes: 8, floating: true, safetensors: 'F64' },
  f16: { code: 2, bytes: 2, floating: true, safetensors: 'F16' },
  bf16: { code: 3, bytes: 2, floating: true, safetensors: 'BF16' },
  i64: { code: 4, bytes: 8, floating: false, safetensors: 'I64' },
  i32: { code: 5, bytes: 4, floating: false, safetensors: 'I32' },
  u8: { code: 6, bytes: 1, floating: false, safetensors: 'U8' },
  bool: { code: 7, bytes: 1, floating: false, safetensors: 'BOOL' },
  i16: { code: 8, bytes: 2, floating: false, safetensors: 'I16' },
  i8: { code: 9, bytes: 1, floating: false, safetensors: 'I8' },
};

const BY_CODE: DType[] = (Object.keys(DTYPES) as DType[]).sort((a, b) => DTYPES[a].code - DTYPES[b].code);

export function dtypeFromCode(code: number): DType {
  const d = BY_CODE[code];
  if (d === undefined) throw new Error(`unsupported tensor dtype (native code ${code})`);
  return d;
}

export function dtypeFromSafetensors(name: string): DType {
  for (const d of BY_CODE) if (DTYPES[d].safetensors === name) return d;
  throw new Error(`unsupported safetensors dtype '${name}'; supported: ${BY_CODE.map((d) => DTYPES[d].safetensors).join(', ')}`);
}

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/** The JS typed array that holds a dtype's values exactly (f16/bf16 read out as f32). */
export type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
