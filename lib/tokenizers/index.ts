/** Tokenizers: llama2.c's `tokenizer.bin` (and GGUF `llama` vocabularies), Hugging Face BPE `tokenizer.json`. */
export type { Tokenizer } from '../model/types.js';
export { Llama2cTokenizer, loadLlama2cTokenizer, type Llama2cVocab, type Llama2cVocabOptions } from './llama2c.js';
export { HfBpeTokenizer, loadHfTokenizer, type HfTokenizerOptions } from './hf_bpe.js';
