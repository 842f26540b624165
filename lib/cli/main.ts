/** `llm-compress` entry point (the package's `bin`). */
import { main } from './program.js';

process.exitCode = await main(process.argv);
