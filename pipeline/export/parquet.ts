import { parquetWriteBuffer } from 'hyparquet-writer';
import { PUBLISHED_COLUMNS, PUBLISHED_COUNT_COLUMNS, type PublishedRow } from './layout.js';

/** Columns written as 64-bit integers (empty cells become nulls); every other column is text. */
const INTEGER_COLUMNS = new Set<string>(['persona_id', ...PUBLISHED_COUNT_COLUMNS]);

/**
 * The rows of one split as Parquet (hyparquet-writer: pure JavaScript, no native or wasm build,
 * writes standard Parquet with snappy pages). Cells keep the CSV's text, so `user_query`,
 * `incorrect_answers` and the True/False columns read the same way from either file; the count
 * columns are INT64 so pandas gets numbers (nullable where the 128k slot is empty).
 */
export function parquetBytes(rows: readonly PublishedRow[]): Uint8Array {
  const columnData = PUBLISHED_COLUMNS.map((name) =>
    INTEGER_COLUMNS.has(name)
      ? { name, type: 'INT64' as const, data: rows.map((r) => (r[name] === '' ? null : BigInt(r[name]))) }
      : { name, type: 'STRING' as const, data: rows.map((r) => r[name]) },
  );
  return new Uint8Array(parquetWriteBuffer({ columnData, createdBy: 'personagen' }));
}
