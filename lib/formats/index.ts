/**
 * Model file formats, each loading into the canonical config and weights of
 * lib/model/types.ts (`LlamaConfig`, `Weights`): Hugging Face safetensors folders and GGUF.
 */
export {
  loadSafetensors,
  readSafetensorsHeader,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from './safetensors.js';
export { checkLlamaWeights, expectedShapes, llamaConfigFromHf, loadHfModel } from './hf_config.js';
export {
  dequantizeGgml,
  loadGguf,
  loadGgufTensors,
  readGgufHeader,
  type GgufHeader,
  type GgufTensorInfo,
  type GgufValue,
  type GgufVocab,
} from './gguf.js';
export {
  encodeQ4_0,
  encodeQ4_1,
  encodeQ6_K,
  encodeQ8_0,
  saveGguf,
  writeGguf,
  type GgufMetaValue,
  type GgufTensorToWrite,
  type GgufWriteOptions,
  type GgufWriteReport,
} from './gguf_write.js';
