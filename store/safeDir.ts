/**
 * Creating output folders without node's recursive mkdir: `fs.mkdirSync(dir, { recursive: true })`
 * (and fs.promises.mkdir) spins at 100% CPU forever on some pseudo file systems, e.g. under
 * /proc, where mkdir answers ENOENT for a parent that exists. Here each missing level is created
 * on its own, so every failure is an error with a code.
 */
import fs from 'node:fs';
import path from 'node:path';

export class UnwritableDirError extends Error {
  constructor(
    readonly dir: string,
    readonly reason: string,
  ) {
    super(`${dir} is not writable (${reason})`);
    this.name = 'UnwritableDirError';
  }
}

/**
 * Makes sure `dir` exists (creating missing levels one at a time under the nearest existing
 * ancestor) and is writable. Throws UnwritableDirError naming the folder and the errno code.
 */
export function ensureWritableDir(dir: string): string {
  const abs = path.resolve(dir);
  let existing = abs;
  while (!fs.existsSync(existing)) {
    const up = path.dirname(existing);
    if (up === existing) break;
    existing = up;
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(existing);
  } catch (err) {
    throw new UnwritableDirError(abs, (err as NodeJS.ErrnoException).code ?? String(err));
  }
  if (!st.isDirectory()) throw new UnwritableDirError(abs, `${existing} is not a directory`);
  try {
    fs.accessSync(existing, fs.constants.W_OK);
    const missing = path.relative(existing, abs).split(path.sep).filter(Boolean);
    for (let i = 1; i <= missing.length; i++) {
      const level = path.join(existing, ...missing.slice(0, i));
      try {
        fs.mkdirSync(level);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    if (!fs.statSync(abs).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    fs.accessSync(abs, fs.constants.W_OK);
  } catch (err) {
    throw new UnwritableDirError(abs, (err as NodeJS.ErrnoException).code ?? String(err));
  }
  return abs;
}
