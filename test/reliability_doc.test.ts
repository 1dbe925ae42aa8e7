// RELIABILITY.md claims only what tests check: every row of its tables names at least one test
// (`file` › title), and every test it names exists, in that file, with that title.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..');
const doc = readFileSync(join(ROOT, 'RELIABILITY.md'), 'utf8');

/** Table rows of the document (not header or separator rows). */
const rows = doc
  .split('\n')
  .filter((l) => l.startsWith('| ') && !l.startsWith('| fault') && !/^\|[-| ]+\|$/.test(l));

/** The tests a row names: its last cell, "`file` › title; › title; `file2` › title". */
function citations(row: string): { file: string; title: string }[] {
  const cells = row.split(' | ');
  const last = cells[cells.length - 1].replace(/\s*\|\s*$/, '');
  const out: { file: string; title: string }[] = [];
  let file = '';
  for (const part of last.split(/;\s+(?=›|`)/)) {
    const m = /^(?:`([^`]+)`\s*)?›\s*(.+)$/.exec(part.trim());
    if (!m) continue;
    if (m[1]) file = m[1];
    out.push({ file, title: m[2].trim() });
  }
  return out;
}

describe('RELIABILITY.md', () => {
  it('has fault tables, each row naming a test', () => {
    expect(rows.length).toBeGreaterThan(20);
    for (const r of rows) expect(citations(r).length, r).toBeGreaterThan(0);
  });

  it('names only tests that exist, in the files it says', () => {
    const cited = rows.flatMap(citations);
    for (const { file, title } of cited) {
      const path = join(ROOT, file);
      expect(existsSync(path), `${file} (cited for "${title}")`).toBe(true);
      expect(readFileSync(path, 'utf8').includes(title), `${file} has no test titled "${title}"`).toBe(true);
    }
  });
});
