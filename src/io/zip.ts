// Reading zip archives whose entries are stored uncompressed, as torch.save writes them (see
// torch-file.ts), straight from the file by offset: the central directory is read once, then
// any byte range of an entry is read into memory the caller owns, so a multi-GB archive is
// never held whole. Zip64 (which torch.save always writes) is understood. Compressed
// (deflated) entries are refused rather than inflated: torch.save never writes them. CRC-32s
// are not checked (torch ≥ 2.5 can write archives without them, and torch's reader skips
// them); every offset and size is checked against the file instead, so a truncated or
// hostile archive fails with an error naming the file and the record.
//
// Layout (APPNOTE.TXT): [local header + data]* [central directory] [zip64 end record,
// zip64 locator]? [end of central directory record, with an optional comment].

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** One entry of the central directory. */
export interface ZipEntry {
  name: string;
  /** 0 = stored; anything else is refused when read */
  method: number;
  /** bytes of the entry's data in the archive (equal to its size when stored) */
  compressedSize: number;
  size: number;
  /** file offset of the entry's data (after its local header) */
  dataOffset: number;
}

export interface ZipArchive {
  path: string;
  fileSize: number;
  /** in central-directory order */
  entries: Map<string, ZipEntry>;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const END_BYTES = 22;
const LOCATOR64_BYTES = 20;
const END64_BYTES = 56;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
const MAX_COMMENT = 0xffff;
const ZIP64_EXTRA = 0x0001;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Opens an archive and reads its central directory. */
export function openZip(path: string): ZipArchive {
  const fd = openSync(path, 'r');
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new Error(`${path}: not a regular file; expected a zip archive`);
    const fileSize = stats.size;
    const { cdOffset, cdSize, count } = findCentralDirectory(path, fd, fileSize);
    const cd = readAt(path, fd, cdOffset, cdSize, 'central directory');
    const entries = new Map<string, ZipEntry>();
    let at = 0;
    for (let i = 0; i < count; i++) {
      const entry = parseCentralEntry(path, fd, fileSize, cd, at, cdOffset, i);
      if (entries.has(entry.entry.name)) throw new Error(`${path}: zip entry ${JSON.stringify(entry.entry.name)} appears twice in the central directory`);
      entries.set(entry.entry.name, entry.entry);
      at = entry.next;
    }
    return { path, fileSize, entries };
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads bytes [start, start + dest.length) of stored entry `entry` into `dest`. The archive
 * must not have changed since openZip (its size is checked).
 */
export function readZipEntryInto(zip: ZipArchive, entry: ZipEntry, start: number, dest: Uint8Array): void {
  if (entry.method !== 0) {
    throw new Error(
      `${zip.path}: zip entry ${JSON.stringify(entry.name)} is compressed (method ${entry.method}); ` +
        'only stored (uncompressed) entries are read, as torch.save writes them; save the file again with torch.save',
    );
  }
  if (start < 0 || start + dest.length > entry.size) {
    throw new Error(`${zip.path}: bytes [${start}, ${start + dest.length}) lie outside zip entry ${JSON.stringify(entry.name)} of ${entry.size} bytes`);
  }
  const fd = openSync(zip.path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size !== zip.fileSize) throw new Error(`${zip.path}: file size changed from ${zip.fileSize} to ${size} bytes since it was opened; open it again`);
    readFully(zip.path, fd, dest, entry.dataOffset + start, `zip entry ${JSON.stringify(entry.name)}`);
  } finally {
    closeSync(fd);
  }
}

/** A whole stored entry in a new buffer. */
export function readZipEntry(zip: ZipArchive, entry: ZipEntry): Uint8Array {
  const bytes = new Uint8Array(entry.size);
  readZipEntryInto(zip, entry, 0, bytes);
  return bytes;
}

function findCentralDirectory(path: string, fd: number, fileSize: number): { cdOffset: number; cdSize: number; count: number } {
  const tailLength = Math.min(fileSize, END_BYTES + MAX_COMMENT);
  const tailStart = fileSize - tailLength;
  const tail = Buffer.from(readAt(path, fd, tailStart, tailLength, 'end of the archive'));
  let end = -1;
  for (let i = tail.length - END_BYTES; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_END && i + END_BYTES + tail.readUInt16LE(i + 20) === tail.length) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    const head = fileSize >= 2 ? Buffer.from(readAt(path, fd, 0, 2, 'start')) : Buffer.alloc(0);
    const legacy = head[0] === 0x80 ? ' It starts like a pickle: a torch.save file of the legacy (pre-1.6) format; save it again with torch ≥ 1.6.' : '';
    throw new Error(
      `${path}: no end-of-central-directory record in the last ${tailLength} bytes; the file is truncated or not a zip archive ` +
        `(torch.save's format).${legacy}`,
    );
  }
  const endAt = tailStart + end;
  const disk = tail.readUInt16LE(end + 4);
  const cdDisk = tail.readUInt16LE(end + 6);
  let count = tail.readUInt16LE(end + 10);
  let cdSize = tail.readUInt32LE(end + 12);
  let cdOffset = tail.readUInt32LE(end + 16);
  const locatorAt = endAt - LOCATOR64_BYTES;
  if (locatorAt >= 0 && readU32(path, fd, locatorAt) === SIG_LOCATOR64) {
    const locator = Buffer.from(readAt(path, fd, locatorAt, LOCATOR64_BYTES, 'zip64 locator'));
    const end64At = safeNumber(path, locator.readBigUInt64LE(8), 'zip64 end record offset');
    if (end64At + END64_BYTES > locatorAt) throw new Error(`${path}: zip64 end record at byte ${end64At} overlaps the locator at ${locatorAt}; the archive is corrupt`);
    const end64 = Buffer.from(readAt(path, fd, end64At, END64_BYTES, 'zip64 end record'));
    if (end64.readUInt32LE(0) !== SIG_END64) throw new Error(`${path}: no zip64 end record at byte ${end64At}, where the zip64 locator points; the archive is corrupt`);
    if (end64.readUInt32LE(16) !== 0 || end64.readUInt32LE(20) !== 0) throw new Error(`${path}: a multi-disk (split) zip archive; join it into one file`);
    count = safeNumber(path, end64.readBigUInt64LE(32), 'zip64 entry count');
    cdSize = safeNumber(path, end64.readBigUInt64LE(40), 'zip64 central directory size');
    cdOffset = safeNumber(path, end64.readBigUInt64LE(48), 'zip64 central directory offset');
  } else if (disk !== 0 || cdDisk !== 0) {
    throw new Error(`${path}: a multi-disk (split) zip archive; join it into one file`);
  }
  if (cdOffset + cdSize > endAt) {
    throw new Error(
      `${path}: the central directory (bytes ${cdOffset}..${cdOffset + cdSize}) runs past its end record at byte ${endAt}; the archive is truncated or corrupt`,
    );
  }
  return { cdOffset, cdSize, count };
}

function parseCentralEntry(
  path: string,
  fd: number,
  fileSize: number,
  cd: Uint8Array,
  at: number,
  cdOffset: number,
  index: number,
): { entry: ZipEntry; next: number } {
  const view = Buffer.from(cd.buffer, cd.byteOffset, cd.byteLength);
  const where = `${path}: central directory entry ${index}`;
  if (at + CENTRAL_BYTES > view.length || view.readUInt32LE(at) !== SIG_CENTRAL) {
    throw new Error(`${where} (byte ${cdOffset + at}) is missing or has a bad signature; the archive is corrupt`);
  }
  const flags = view.readUInt16LE(at + 8);
  const method = view.readUInt16LE(at + 10);
  let compressedSize = view.readUInt32LE(at + 20);
  let size = view.readUInt32LE(at + 24);
  const nameLength = view.readUInt16LE(at + 28);
  const extraLength = view.readUInt16LE(at + 30);
  const commentLength = view.readUInt16LE(at + 32);
  let localOffset = view.readUInt32LE(at + 42);
  const next = at + CENTRAL_BYTES + nameLength + extraLength + commentLength;
  if (next > view.length) throw new Error(`${where} runs past the end of the central directory; the archive is corrupt`);
  let name: string;
  try {
    name = utf8.decode(view.subarray(at + CENTRAL_BYTES, at + CENTRAL_BYTES + nameLength));
  } catch {
    throw new Error(`${where}: the file name is not valid UTF-8`);
  }
  if (flags & 1) throw new Error(`${path}: zip entry ${JSON.stringify(name)} is encrypted; encrypted archives are not read`);
  // Sizes and offsets of 0xffffffff live in the zip64 extra field, in this order.
  const extra = view.subarray(at + CENTRAL_BYTES + nameLength, at + CENTRAL_BYTES + nameLength + extraLength);
  const wide = [size === 0xffffffff, compressedSize === 0xffffffff, localOffset === 0xffffffff];
  if (wide.some(Boolean)) {
    const values = zip64Values(path, name, extra, wide.filter(Boolean).length);
    if (wide[0]) size = values.shift() as number;
    if (wide[1]) compressedSize = values.shift() as number;
    if (wide[2]) localOffset = values.shift() as number;
  }
  if (localOffset + LOCAL_BYTES > cdOffset) {
    throw new Error(`${path}: zip entry ${JSON.stringify(name)}: its local header at byte ${localOffset} lies past the start of the central directory; the archive is corrupt`);
  }
  const local = Buffer.from(readAt(path, fd, localOffset, LOCAL_BYTES, `local header of ${JSON.stringify(name)}`));
  if (local.readUInt32LE(0) !== SIG_LOCAL) throw new Error(`${path}: zip entry ${JSON.stringify(name)}: no local header at byte ${localOffset}; the archive is corrupt`);
  const dataOffset = localOffset + LOCAL_BYTES + local.readUInt16LE(26) + local.readUInt16LE(28);
  if (method === 0 && compressedSize !== size) {
    throw new Error(`${path}: zip entry ${JSON.stringify(name)} is stored but its sizes differ (${compressedSize} stored, ${size} uncompressed); the archive is corrupt`);
  }
  if (dataOffset + compressedSize > Math.min(cdOffset, fileSize)) {
    throw new Error(
      `${path}: zip entry ${JSON.stringify(name)} (bytes ${dataOffset}..${dataOffset + compressedSize}) runs past the start of the central directory at byte ${cdOffset}; the archive is truncated or corrupt`,
    );
  }
  return { entry: { name, method, compressedSize, size, dataOffset }, next };
}

function zip64Values(path: string, name: string, extra: Buffer, needed: number): number[] {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === ZIP64_EXTRA) {
      if (length < needed * 8 || at + 4 + length > extra.length) break;
      return Array.from({ length: needed }, (_, i) => safeNumber(path, extra.readBigUInt64LE(at + 4 + 8 * i), `zip64 field of ${JSON.stringify(name)}`));
    }
    at += 4 + length;
  }
  throw new Error(`${path}: zip entry ${JSON.stringify(name)} needs a zip64 extra field with ${needed} values, and has none; the archive is corrupt`);
}

function safeNumber(path: string, value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${path}: ${what} ${value} is too large; the archive is corrupt`);
  return Number(value);
}

function readU32(path: string, fd: number, position: number): number {
  return Buffer.from(readAt(path, fd, position, 4, 'record signature')).readUInt32LE(0);
}

function readAt(path: string, fd: number, position: number, length: number, what: string): Uint8Array {
  const bytes = new Uint8Array(length);
  readFully(path, fd, bytes, position, what);
  return bytes;
}

function readFully(path: string, fd: number, dest: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < dest.length) {
    const read = readSync(fd, dest, done, dest.length - done, position + done);
    if (read === 0) throw new Error(`${path}: the file ends at byte ${position + done}, inside the ${what} (bytes ${position}..${position + dest.length}); the archive is truncated`);
    done += read;
  }
}
