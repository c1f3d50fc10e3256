import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import { readNative } from './read-native.js';
import { findPublishedFiles, looksPublished, readPublished } from './read-published.js';
import { AuditDataset, type AuditFormat } from './schema.js';

export type FormatChoice = AuditFormat | 'auto';

/**
 * Reads a dataset for the audit: ours (a directory with questions.jsonl) or the published
 * PersonaMem-v2 layout (question CSVs, raw persona files, chat histories; or raw persona files
 * alone). `auto` tells them apart by what the path holds.
 */
export async function readAuditDataset(path: string, format: FormatChoice = 'auto'): Promise<AuditDataset> {
  if (!existsSync(path)) throw new InputError({ file: path }, 'no such file or directory');
  const isDir = statSync(path).isDirectory();
  const native = isDir && existsSync(join(path, 'questions.jsonl'));
  let chosen: AuditFormat;
  if (format === 'auto') {
    if (native) chosen = 'native';
    else {
      const files = await findPublishedFiles(path);
      if (!looksPublished(files))
        throw new InputError(
          { file: path },
          'not a dataset: expected questions.jsonl (native), benchmark/text/{benchmark,train,val}.csv or raw persona files (personamem-v2)',
        );
      return AuditDataset.parse(await readPublished(path, files));
    }
  } else chosen = format;
  if (chosen === 'native') {
    if (!native)
      throw new InputError({ file: join(path, 'questions.jsonl') }, 'missing: --format native needs a directory with questions.jsonl');
    return AuditDataset.parse(await readNative(path));
  }
  const files = await findPublishedFiles(path);
  if (!looksPublished(files))
    throw new InputError(
      { file: path },
      'no published files found: expected benchmark/text/{benchmark,train,val}.csv or raw persona files',
    );
  return AuditDataset.parse(await readPublished(path, files));
}
