/**
 * The bench's output: one aligned Markdown table (readable in a terminal and
 * pasteable into docs/bench.md) and `bench/results.json`, whose keys are
 * written in a fixed order so that two runs diff line by line.
 */

/** One line of the table: a figure, its peer when there is one, and the target it is held to. */
export interface Line {
  measure: string;
  ours: string;
  /** The peer's figure, named: "IPX 45.1 ms". */
  peer?: string;
  /** ours ÷ peer (or the figure the target is about), shown as `0.93×`. */
  ratio?: number;
  target?: string;
  /** Undefined when the line has no target. */
  pass?: boolean;
}

export interface RowResult {
  id: number;
  title: string;
  lines: Line[];
  /** What a reader needs to interpret the figures: method, caveats, why a target fails. */
  notes: string[];
  /** The raw figures for results.json, in the order they should be written. */
  data: Record<string, unknown>;
}

const HEADERS = ['#', 'measure', 'ours', 'peer', 'ratio', 'target', 'ok'] as const;

export function renderTable(rows: readonly RowResult[]): string {
  const cells: string[][] = [];
  for (const row of rows) {
    cells.push([String(row.id), `**${row.title}**`, '', '', '', '', '']);
    for (const line of row.lines) {
      cells.push([
        '',
        line.measure,
        line.ours,
        line.peer ?? '',
        line.ratio === undefined ? '' : Number.isFinite(line.ratio) ? `${line.ratio.toFixed(2)}×` : 'n/a',
        line.target ?? '',
        line.pass === undefined ? '' : line.pass ? 'yes' : 'NO',
      ]);
    }
  }
  const widths = HEADERS.map((header, column) =>
    Math.max(header.length, ...cells.map((cell) => width(cell[column] ?? ''))),
  );
  const format = (cell: readonly string[]) =>
    `| ${cell.map((text, column) => pad(text, widths[column] ?? 0, column >= 2 && column <= 4)).join(' | ')} |`;
  const rule = `|${widths.map((w, column) => (column >= 2 && column <= 4 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [format(HEADERS), rule, ...cells.map(format)].join('\n');
}

export function renderNotes(rows: readonly RowResult[]): string {
  return rows
    .filter((row) => row.notes.length > 0)
    .map((row) => row.notes.map((note, index) => `${index === 0 ? `${row.id}.` : '  '} ${note}`).join('\n'))
    .join('\n');
}

/** Display width: the table holds ×, →, ≤ and the like, one column each. */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, size - width(text)));
  return right ? fill + text : text + fill;
}
