/** Text handling of the quality protocol (DESIGN.md section 7). */

/** Paragraphs of a text: split on blank lines ("\n\n"), each trimmed, empty ones dropped. */
export function splitParagraphs(text: string): string[] {
  return text
    .split('\n\n')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}
