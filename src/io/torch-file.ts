// Reading PyTorch's torch.save files (.pth / .pt; the zip format of torch ≥ 1.6) that hold a
// dict or OrderedDict of tensors — a state_dict — without running Python. The archive is
// <root>/data.pkl (the pickle: the dict, with each tensor as a call of
// torch._utils._rebuild_tensor_v2 on a persistent id ('storage', torch.FloatStorage, key,
// location, numel)), <root>/data/<key> (each storage's raw bytes) and, since torch 2.0,
// <root>/byteorder. The pickle is read by io/pickle.ts with exactly these globals allowed:
// _rebuild_tensor_v2 and the Float/Half/BFloat16 storage types (plus collections.OrderedDict),
// so any other global — os.system, a module's class — is refused by name. Tensors are built
// only after the whole pickle was read, each storage range read from disk straight into the
// tensor's memory; a view saved with other strides (a transpose, a slice) is gathered.

import * as T from '../tensor/index.js';
import { TORCH_BYTEORDER_FILE, TORCH_PICKLE_FILE, TORCH_STORAGE_DIR } from './files.js';
import { PickleDict, PickleGlobal, PickleObject, describe, unpickle, type PickleValue } from './pickle.js';
import { openZip, readZipEntry, readZipEntryInto, type ZipArchive } from './zip.js';

/** Storage types read, and their dtypes. */
const STORAGE_DTYPES: Record<string, T.DType> = {
  'torch.FloatStorage': 'f32',
  'torch.HalfStorage': 'f16',
  'torch.BFloat16Storage': 'bf16',
};
const REBUILD_TENSOR = 'torch._utils._rebuild_tensor_v2';
/** a state_dict's pickle is a few KB per hundred tensors; more means a hostile file */
const MAX_PICKLE_BYTES = 64 << 20;

class StorageRef extends PickleObject {
  constructor(readonly key: string, readonly dtype: T.DType, readonly numel: number) {
    super();
  }
}

class TensorRef extends PickleObject {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly size: number[], readonly stride: number[]) {
    super();
  }
}

/**
 * The tensors of a torch.save'd dict of tensors, by key, floating ones converted to `dtype`,
 * on `device` (read on the CPU one at a time). Tensors are kept (they outlive scopes).
 */
export function loadTorchFile(path: string, o: { dtype?: T.DType; device?: T.Device } = {}): Map<string, T.Tensor> {
  const zip = openZip(path);
  const root = archiveRoot(zip);
  const byteorder = zip.entries.get(`${root}/${TORCH_BYTEORDER_FILE}`);
  if (byteorder !== undefined) {
    const order = Buffer.from(readZipEntry(zip, byteorder)).toString('latin1').trim();
    if (order !== 'little') throw new Error(`${path}: ${root}/${TORCH_BYTEORDER_FILE} says '${order.slice(0, 20)}'; only little-endian archives are read`);
  }
  const refs = readStateDict(path, zip, root);
  const out = new Map<string, T.Tensor>();
  try {
    for (const [name, ref] of refs) {
      const t = materialize(path, zip, root, name, ref);
      const converted = o.dtype === undefined || o.dtype === t.dtype ? t : replace(t, t.to(o.dtype));
      out.set(name, T.keep(o.device === undefined || o.device === 'cpu' ? converted : replace(converted, converted.to(o.device))));
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/** The archive's root folder: the one holding data.pkl (torch names it after the file). */
function archiveRoot(zip: ZipArchive): string {
  const roots = [...zip.entries.keys()].filter((n) => n.endsWith(`/${TORCH_PICKLE_FILE}`) && n.indexOf('/') === n.length - TORCH_PICKLE_FILE.length - 1);
  if (roots.length !== 1) {
    throw new Error(
      `${zip.path}: ${roots.length === 0 ? 'no' : `${roots.length}`} <root>/${TORCH_PICKLE_FILE} entries in the zip archive; ` +
        'expected exactly one, as torch.save writes (is this a torch.save file?)',
    );
  }
  return (roots[0] as string).slice(0, -TORCH_PICKLE_FILE.length - 1);
}

/** Unpickles data.pkl and checks that it is a dict of tensors. */
function readStateDict(path: string, zip: ZipArchive, root: string): Map<string, TensorRef> {
  const pickleName = `${root}/${TORCH_PICKLE_FILE}`;
  const entry = zip.entries.get(pickleName);
  if (entry === undefined) throw new Error(`${path}: no ${pickleName}`);
  if (entry.size > MAX_PICKLE_BYTES) throw new Error(`${path}: ${pickleName} is ${entry.size} bytes, over the ${MAX_PICKLE_BYTES}-byte limit for a dict of tensors`);
  const source = `${path}: ${pickleName}`;
  const value = unpickle(readZipEntry(zip, entry), {
    source,
    globals: {
      [REBUILD_TENSOR]: { call: (args) => rebuildTensor(source, args) },
      ...Object.fromEntries(Object.keys(STORAGE_DTYPES).map((name) => [name, {}])),
    },
    persistentLoad: (pid) => storageRef(source, pid),
  });
  if (!(value instanceof PickleDict)) throw new Error(`${source}: the file holds ${describe(value)}, not a dict of tensors (a state_dict)`);
  const refs = new Map<string, TensorRef>();
  for (const [key, v] of value.items) {
    if (typeof key !== 'string') throw new Error(`${source}: key ${String(key)} is a ${typeof key}; a state_dict's keys are strings`);
    if (!(v instanceof TensorRef)) throw new Error(`${source}: ${JSON.stringify(key)} is ${describe(v)}, not a tensor; only a dict of tensors (a state_dict) is read`);
    refs.set(key, v);
  }
  return refs;
}

/** ('storage', <storage type>, key, location, numel) → a reference to data/<key>. */
function storageRef(source: string, pid: PickleValue): StorageRef {
  if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
    throw new Error(`${source}: persistent id ${describe(pid)} is not ('storage', type, key, location, numel), as torch.save writes`);
  }
  const [, type, key, , numel] = pid;
  if (!(type instanceof PickleGlobal) || !Object.hasOwn(STORAGE_DTYPES, type.name)) {
    throw new Error(`${source}: storage type ${describe(type as PickleValue)} is not read; supported: ${Object.keys(STORAGE_DTYPES).join(', ')}`);
  }
  if (typeof key !== 'string' || !/^\w+$/.test(key)) throw new Error(`${source}: storage key ${describe(key as PickleValue)} is not a plain name`);
  if (!isCount(numel)) throw new Error(`${source}: storage ${key} has element count ${describe(numel as PickleValue)}; expected a non-negative integer`);
  return new StorageRef(key, STORAGE_DTYPES[type.name] as T.DType, numel);
}

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
function rebuildTensor(source: string, args: PickleValue[]): TensorRef {
  const [storage, offset, size, stride, , hooks, metadata] = args;
  const where = `${source}: ${REBUILD_TENSOR}`;
  if (args.length < 6 || args.length > 7) throw new Error(`${where} has ${args.length} arguments; expected 6 or 7`);
  if (!(storage instanceof StorageRef)) throw new Error(`${where}: the storage argument is ${describe(storage as PickleValue)}, not a persistent storage`);
  if (!isCount(offset)) throw new Error(`${where}: storage offset ${describe(offset as PickleValue)} is not a non-negative integer`);
  if (!Array.isArray(size) || !size.every(isCount)) throw new Error(`${where}: size ${describe(size as PickleValue)} is not a tuple of non-negative integers`);
  if (!Array.isArray(stride) || stride.length !== size.length || !stride.every(isCount)) {
    throw new Error(`${where}: stride ${describe(stride as PickleValue)} is not a tuple of ${size.length} non-negative integers`);
  }
  if (!(hooks instanceof PickleDict)) throw new Error(`${where}: backward_hooks is ${describe(hooks as PickleValue)}, not an OrderedDict`);
  if (metadata !== undefined && metadata !== null && !(metadata instanceof PickleDict && metadata.items.size === 0)) {
    throw new Error(`${where}: tensor metadata ${describe(metadata)} is not read (only plain tensors are)`);
  }
  return new TensorRef(storage, offset as number, size as number[], stride as number[]);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Reads a tensor's elements from its storage; a non-contiguous view is gathered. */
function materialize(path: string, zip: ZipArchive, root: string, name: string, ref: TensorRef): T.Tensor {
  const { storage, offset, size, stride } = ref;
  const entryName = `${root}/${TORCH_STORAGE_DIR}/${storage.key}`;
  const entry = zip.entries.get(entryName);
  if (entry === undefined) throw new Error(`${path}: tensor ${JSON.stringify(name)}: its storage ${entryName} is missing from the archive`);
  const elementBytes = T.DTYPES[storage.dtype].bytes;
  if (entry.size < storage.numel * elementBytes) {
    throw new Error(`${path}: ${entryName} holds ${entry.size} bytes, but its ${storage.numel} ${storage.dtype} elements need ${storage.numel * elementBytes}; the file is truncated or corrupt`);
  }
  const numel = size.reduce((a, b) => a * b, 1);
  if (numel === 0) return T.empty(size, { dtype: storage.dtype });
  const last = offset + size.reduce((sum, n, i) => sum + (n - 1) * (stride[i] as number), 0);
  if (last >= storage.numel) {
    throw new Error(
      `${path}: tensor ${JSON.stringify(name)} (offset ${offset}, size [${size}], stride [${stride}]) reaches element ${last} ` +
        `of storage ${entryName}, which has ${storage.numel}; the file is corrupt`,
    );
  }
  return T.scope(() => {
    if (isContiguous(size, stride)) {
      const t = T.empty(size, { dtype: storage.dtype });
      readZipEntryInto(zip, entry, offset * elementBytes, t.bytesView());
      return t;
    }
    const base = T.empty([last - offset + 1], { dtype: storage.dtype });
    readZipEntryInto(zip, entry, offset * elementBytes, base.bytesView());
    // element (i0, i1, …) of the view is base[Σ i_k · stride_k]
    let index = T.zeros([], { dtype: 'i64' });
    size.forEach((n, k) => {
      const shape = size.map((_, j) => (j === k ? n : 1));
      index = index.add(T.arange(0, n, 1, { dtype: 'i64' }).mul(stride[k] as number).reshape(...shape));
    });
    return base.indexSelect(0, index.reshape(-1)).reshape(...size);
  });
}

/** Row-major strides, ignoring dimensions of size 1 (whose stride never matters). */
function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let k = size.length - 1; k >= 0; k--) {
    if (size[k] !== 1 && stride[k] !== expected) return false;
    expected *= size[k] as number;
  }
  return true;
}

function replace(old: T.Tensor, next: T.Tensor): T.Tensor {
  old.dispose();
  return next;
}
