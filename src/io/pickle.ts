// A restricted unpickler: Python's pickle format read as plain data, never as code. It knows the
// opcodes that Python's binary pickler writes for plain data, at protocols 2 (torch.save's) to 5:
// None, booleans, integers up to 64 bits, floats, strings, tuples, lists, dicts, the memo, and
// collections.OrderedDict (the type of every state_dict, with its `_metadata` attribute set by
// BUILD). Every other global must be allowed by the caller, by name; a global that is not is
// refused when its GLOBAL opcode is read, before anything could call it, with an error naming
// it. REDUCE calls only the caller's own TypeScript functions for the allowed names, and BUILD
// is accepted only on an OrderedDict with a dict of attributes. Opcodes that build arbitrary
// objects (INST, OBJ, NEWOBJ, NEWOBJ_EX, the extension registry) and the text-mode protocol-0
// forms are refused by name. No Python code runs, whatever the file holds.
//
// Opcode table: Python's Lib/pickletools.py.

/** A dict (or OrderedDict) from the pickle; keys are primitives (strings for state_dicts). */
export class PickleDict {
  readonly items = new Map<PickleKey, PickleValue>();
  /** attributes set by BUILD (a state_dict's `_metadata`) */
  readonly attributes = new Map<string, PickleValue>();
  constructor(readonly ordered: boolean) {}
}

/** A reference to an allowed global that is not called (e.g. torch.FloatStorage). */
export class PickleGlobal {
  constructor(readonly name: string) {}
}

/** Base class of the values the caller's functions and persistent loader return. */
export abstract class PickleObject {}

export type PickleKey = string | number | bigint | boolean | null;
/** Tuples and lists both arrive as arrays. */
export type PickleValue = PickleKey | PickleValue[] | PickleDict | PickleGlobal | PickleObject;

export interface UnpickleOptions {
  /** names the pickle in errors (e.g. `model.pth: data.pkl`) */
  source: string;
  /**
   * Allowed globals by `module.name`: `call` handles REDUCE (it receives the argument tuple);
   * without it the global may only be referenced. collections.OrderedDict is always allowed.
   */
  globals: Record<string, { call?: (args: PickleValue[]) => PickleValue }>;
  /** handles BINPERSID (torch's storages); without it a persistent id is refused */
  persistentLoad?: (pid: PickleValue) => PickleValue;
}

const ORDERED_DICT = 'collections.OrderedDict';
const MAX_STACK = 100_000;

/** Names of refused opcodes, for error messages. */
const REFUSED: Record<number, string> = {
  0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT', 0x53: 'STRING', 0x56: 'UNICODE', 0x70: 'PUT', 0x67: 'GET', 0x50: 'PERSID',
  0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES', 0x8e: 'BINBYTES8', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
  0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x8b: 'LONG4', 0x8d: 'BINUNICODE8',
  // never written by Python's binary pickler (DUP at all, DICT and LIST only at protocol 0)
  0x32: 'DUP', 0x64: 'DICT', 0x6c: 'LIST',
};

/** Reads one pickle from `bytes` and returns its value. Throws an Error naming `o.source`. */
export function unpickle(bytes: Uint8Array, o: UnpickleOptions): PickleValue {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: PickleValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;
  let opAt = 0;
  let opName = '';

  const fail = (message: string): never => {
    throw new Error(`${o.source}: ${message} (opcode ${opName} at byte ${opAt})`);
  };
  const need = (n: number): number => {
    if (pos + n > data.length) fail(`the pickle ends at byte ${data.length}, inside an opcode; the file is truncated`);
    const at = pos;
    pos += n;
    return at;
  };
  const push = (v: PickleValue) => {
    if (stack.length >= MAX_STACK) fail(`the stack grew past ${MAX_STACK} items; not a tensor file`);
    stack.push(v);
  };
  const pop = (): PickleValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= (marks[marks.length - 1] as number))) fail('the stack is empty');
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    if (stack.length === 0) fail('the stack is empty');
    return stack[stack.length - 1] as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    const mark = marks.pop();
    if (mark === undefined) fail('no MARK to pop to');
    return stack.splice(mark as number);
  };
  const text = (at: number, n: number): string => {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(at, at + n));
    } catch {
      return fail('a string is not valid UTF-8');
    }
  };
  const dictOf = (v: PickleValue): PickleDict => (v instanceof PickleDict ? v : fail(`expected a dict, found ${describe(v)}`));
  const keyOf = (v: PickleValue): PickleKey => {
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return v;
    return fail(`a dict key must be a string, number, boolean or None, found ${describe(v)}`);
  };
  const listOf = (v: PickleValue): PickleValue[] => (Array.isArray(v) ? v : fail(`expected a list, found ${describe(v)}`));
  const resolveGlobal = (module: string, name: string): PickleValue => {
    const full = `${module}.${name}`;
    if (full === ORDERED_DICT || Object.hasOwn(o.globals, full)) return new PickleGlobal(full);
    const allowed = [ORDERED_DICT, ...Object.keys(o.globals)].join(', ');
    return fail(`the pickle refers to the global '${full}', which is not allowed here (allowed: ${allowed}); nothing was executed`);
  };

  for (;;) {
    opAt = pos;
    const op = data[need(1)] as number;
    opName = `0x${op.toString(16).padStart(2, '0')}`;
    switch (op) {
      case 0x80: opName = 'PROTO'; { const v = data[need(1)] as number; if (v > 5) fail(`pickle protocol ${v} is newer than 5`); } break;
      case 0x95: opName = 'FRAME'; need(8); break;
      case 0x2e: {
        opName = 'STOP';
        const result = pop();
        if (stack.length !== 0 || marks.length !== 0) fail(`${stack.length} values left on the stack at STOP; the pickle is malformed`);
        return result;
      }
      case 0x28: opName = 'MARK'; marks.push(stack.length); break;
      case 0x30: opName = 'POP'; pop(); break;
      case 0x31: opName = 'POP_MARK'; popMark(); break;
      case 0x4e: opName = 'NONE'; push(null); break;
      case 0x88: opName = 'NEWTRUE'; push(true); break;
      case 0x89: opName = 'NEWFALSE'; push(false); break;
      case 0x4a: opName = 'BININT'; push(data.readInt32LE(need(4))); break;
      case 0x4b: opName = 'BININT1'; push(data.readUInt8(need(1))); break;
      case 0x4d: opName = 'BININT2'; push(data.readUInt16LE(need(2))); break;
      case 0x8a: {
        opName = 'LONG1';
        const n = data[need(1)] as number;
        if (n > 8) fail(`a ${n}-byte integer is longer than 64 bits`);
        const at = need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[at + i] as number);
        if (n > 0 && (data[at + n - 1] as number) & 0x80) v -= 1n << BigInt(8 * n);
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: opName = 'BINFLOAT'; push(data.readDoubleBE(need(8))); break;
      case 0x58: { opName = 'BINUNICODE'; const n = data.readUInt32LE(need(4)); push(text(need(n), n)); break; }
      case 0x8c: { opName = 'SHORT_BINUNICODE'; const n = data[need(1)] as number; push(text(need(n), n)); break; }
      case 0x29: opName = 'EMPTY_TUPLE'; push([]); break;
      case 0x74: opName = 'TUPLE'; push(popMark()); break;
      case 0x85: opName = 'TUPLE1'; push([pop()]); break;
      case 0x86: { opName = 'TUPLE2'; const b = pop(); push([pop(), b]); break; }
      case 0x87: { opName = 'TUPLE3'; const c = pop(); const b = pop(); push([pop(), b, c]); break; }
      case 0x5d: opName = 'EMPTY_LIST'; push([]); break;
      case 0x61: { opName = 'APPEND'; const v = pop(); listOf(top()).push(v); break; }
      case 0x65: { opName = 'APPENDS'; const items = popMark(); listOf(top()).push(...items); break; }
      case 0x7d: opName = 'EMPTY_DICT'; push(new PickleDict(false)); break;
      case 0x73: { opName = 'SETITEM'; const v = pop(); const k = pop(); dictOf(top()).items.set(keyOf(k), v); break; }
      case 0x75: {
        opName = 'SETITEMS';
        const items = popMark();
        if (items.length % 2 !== 0) fail('SETITEMS needs key/value pairs');
        const d = dictOf(top());
        for (let i = 0; i < items.length; i += 2) d.items.set(keyOf(items[i] as PickleValue), items[i + 1] as PickleValue);
        break;
      }
      case 0x71: opName = 'BINPUT'; memo.set(data[need(1)] as number, top()); break;
      case 0x72: opName = 'LONG_BINPUT'; memo.set(data.readUInt32LE(need(4)), top()); break;
      case 0x94: opName = 'MEMOIZE'; memo.set(memo.size, top()); break;
      case 0x68: opName = 'BINGET'; push(memoGet(memo, data[need(1)] as number, fail)); break;
      case 0x6a: opName = 'LONG_BINGET'; push(memoGet(memo, data.readUInt32LE(need(4)), fail)); break;
      case 0x63: {
        opName = 'GLOBAL';
        const module = line(data, pos, fail);
        pos += Buffer.byteLength(module) + 1;
        const name = line(data, pos, fail);
        pos += Buffer.byteLength(name) + 1;
        push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        opName = 'STACK_GLOBAL';
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        opName = 'REDUCE';
        const args = pop();
        const callee = pop();
        if (!(callee instanceof PickleGlobal)) fail(`REDUCE may only call an allowed global, not ${describe(callee)}`);
        const g = callee as PickleGlobal;
        if (!Array.isArray(args)) fail(`REDUCE of ${g.name} needs an argument tuple, found ${describe(args)}`);
        if (g.name === ORDERED_DICT) {
          if ((args as PickleValue[]).length !== 0) fail(`${ORDERED_DICT} is called with arguments; only OrderedDict() is read`);
          push(new PickleDict(true));
          break;
        }
        const call = o.globals[g.name]?.call;
        if (call === undefined) fail(`REDUCE of ${g.name} is not allowed: it may only be referenced, not called`);
        push((call as (a: PickleValue[]) => PickleValue)(args as PickleValue[]));
        break;
      }
      case 0x62: {
        opName = 'BUILD';
        const state = pop();
        const target = top();
        if (!(target instanceof PickleDict && target.ordered)) fail(`BUILD may only set the attributes of an OrderedDict, not of ${describe(target)}`);
        if (!(state instanceof PickleDict)) fail(`BUILD of an OrderedDict needs a dict of attributes, found ${describe(state)}`);
        for (const [k, v] of (state as PickleDict).items) {
          if (typeof k !== 'string') fail('an attribute name must be a string');
          (target as PickleDict).attributes.set(k as string, v);
        }
        break;
      }
      case 0x51: {
        opName = 'BINPERSID';
        const pid = pop();
        if (o.persistentLoad === undefined) fail('a persistent id (BINPERSID) is not allowed here');
        push((o.persistentLoad as (p: PickleValue) => PickleValue)(pid));
        break;
      }
      default: {
        const name = REFUSED[op];
        if (name !== undefined) opName = name;
        fail(name !== undefined ? `opcode ${name} is not allowed: a tensor file needs only None, numbers, strings, tuples, lists, dicts and tensors` : 'unknown opcode; not a pickle, or a corrupt one');
      }
    }
  }
}

/** A short description of a value for errors. */
export function describe(v: PickleValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return `a tuple/list of ${v.length}`;
  if (v instanceof PickleDict) return v.ordered ? 'an OrderedDict' : 'a dict';
  if (v instanceof PickleGlobal) return `the global ${v.name}`;
  if (v instanceof PickleObject) return `a ${v.constructor.name}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
  return `the ${typeof v} ${String(v)}`;
}

function memoGet(memo: Map<number, PickleValue>, key: number, fail: (m: string) => never): PickleValue {
  if (!memo.has(key)) fail(`memo key ${key} was never stored`);
  return memo.get(key) as PickleValue;
}

/** A newline-terminated ASCII line of GLOBAL (module or name). */
function line(data: Buffer, at: number, fail: (m: string) => never): string {
  const end = data.indexOf(0x0a, at);
  if (end < 0) fail('a GLOBAL name is not terminated; the file is truncated');
  const s = data.toString('latin1', at, end);
  if (!/^[A-Za-z_][\w.]*$/.test(s)) fail(`the GLOBAL name ${JSON.stringify(s.slice(0, 80))} is not a Python identifier`);
  return s;
}
