// Atomic file writes: write a temp file in the destination's directory, fsync it, rename it
// over the destination, fsync the directory. A reader sees either the old file or the complete
// new one, never a half-written file, even if the process dies mid-write.
//
// Everything here is synchronous (fs.*Sync), so a write cannot interleave with other work.

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Content for writeFileAtomic: one buffer or string, or chunks written one after another. */
export type AtomicContent = Uint8Array | string | Iterable<Uint8Array>;

/**
 * A file being written atomically, chunk by chunk. Nothing appears at `path` until commit();
 * abort() (or a failed commit) removes the temp file and leaves any old file untouched.
 */
export class AtomicFileWriter {
  readonly path: string;
  /** The temp file in the same directory (rename is only atomic within one filesystem). */
  readonly tempPath: string;
  private fd: number | null;

  constructor(path: string) {
    this.path = path;
    this.tempPath = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    this.fd = openSync(this.tempPath, 'wx');
  }

  /** Appends `chunk` (strings as UTF-8). */
  write(chunk: Uint8Array | string): void {
    const fd = this.openFd('write');
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let written = 0;
    while (written < bytes.length) {
      written += writeSync(fd, bytes, written, bytes.length - written);
    }
  }

  /** Flushes the temp file to disk and renames it to `path`. */
  commit(): void {
    const fd = this.openFd('commit');
    try {
      fsyncSync(fd);
      closeSync(fd);
      this.fd = null;
      renameSync(this.tempPath, this.path);
    } catch (error) {
      this.abort();
      throw error;
    }
    fsyncDirectory(dirname(this.path));
  }

  /** Discards what was written; safe to call more than once and after a failed commit. */
  abort(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
    try {
      unlinkSync(this.tempPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  private openFd(action: string): number {
    if (this.fd === null) {
      throw new Error(`${this.path}: cannot ${action}: the atomic write was already committed or aborted`);
    }
    return this.fd;
  }
}

/**
 * Writes `content` to `path` atomically. An iterable is streamed chunk by chunk (never joined
 * into one buffer); if it throws, the temp file is removed and the error is rethrown.
 */
export function writeFileAtomic(path: string, content: AtomicContent): void {
  const writer = new AtomicFileWriter(path);
  try {
    if (typeof content === 'string' || content instanceof Uint8Array) {
      writer.write(content);
    } else {
      for (const chunk of content) writer.write(chunk);
    }
  } catch (error) {
    writer.abort();
    throw error;
  }
  writer.commit();
}

/** Makes a rename in `dir` durable. Windows cannot open directories, and needs no such step. */
function fsyncDirectory(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
