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
