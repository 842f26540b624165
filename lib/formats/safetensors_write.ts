/** Writing safetensors files: an 8-byte header length, the JSON header, then the tensors' bytes. */
import { open } from 'node:fs/promises';

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'I32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Writes `tensors` (in order) to `path`; the header is padded with spaces to a multiple of 8 bytes. */
export async function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let at = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.data.byteLength] };
    at += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const file = await open(path, 'w');
  try {
    await file.write(head);
    await file.write(Buffer.from(json));
    for (const t of tensors) await file.write(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    await file.sync();
  } finally {
    await file.close();
  }
}
