/**
 * The bench's output: one aligned Markdown table (readable in a terminal and
 * pasteable into docs/bench.md) and `bench/results.json`, whose keys are
 * written in a fixed order so that two runs diff line by line.
 *
 * Every row runs several rounds in one `npm run bench` (bench/run.ts). A line
 * that carries numbers (`value`, `peerValue`, `ratio`) is merged across the
 * rounds into the median and the spread (min–max); its target holds only when
 * it held in every round.
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
  /** Our figure as a number, printed by `unit`: lets rounds be merged into a median and a spread. */
  value?: number;
  /** The peer's figure as a number (printed by `unit` after `peerName`). */
  peerValue?: number;
  peerName?: string;
  unit?: (value: number) => string;
  /** Set when rounds are merged: min–max of `value` and of `ratio`, and how many rounds met the target. */
  spread?: string;
  ratioSpread?: string;
  held?: { passed: number; rounds: number };
  perRound?: { ours: (number | null)[]; peer: (number | null)[]; ratio: (number | null)[]; pass: (boolean | null)[] };
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

/** A line whose figures are numbers: printed now, mergeable across rounds later. */
export function figure(
  measure: string,
  value: number,
  unit: (value: number) => string,
  options: {
    peerName?: string;
    peerValue?: number;
    /** Defaults to value ÷ peerValue when there is a peer. */
    ratio?: number;
    target?: string;
    /** Applied to the ratio when there is one, else to the value (or to the value always, with `on: 'value'`). */
    check?: (x: number) => boolean;
    on?: 'value' | 'ratio';
    /** A peer shown for context only: no ratio column. */
    noRatio?: boolean;
  } = {},
): Line {
  const computed = options.peerValue === undefined ? undefined : value / options.peerValue;
  const ratio = options.noRatio ? undefined : (options.ratio ?? computed);
  const subject = options.on === 'value' ? value : (ratio ?? value);
  return {
    measure,
    ours: unit(value),
    peer:
      options.peerValue === undefined
        ? options.peerName
        : `${options.peerName ? `${options.peerName} ` : ''}${unit(options.peerValue)}`,
    ratio,
    target: options.target,
    pass: options.check ? Number.isFinite(subject) && options.check(subject) : undefined,
    value,
    peerValue: options.peerValue,
    peerName: options.peerName,
    unit,
  };
}

/**
 * Merges the results of one row over several rounds: lines are matched by
 * position; numeric figures become medians with their min–max, a target holds
 * only if it held in every round. Lines without numbers keep the first round's text.
 */
export function mergeRounds(rounds: readonly RowResult[]): RowResult {
  const first = rounds[0];
  if (!first) throw new Error('no rounds to merge');
  if (rounds.length === 1) return first;
  const lines = first.lines.map((line, index) => {
    const same = rounds.map((round) => round.lines[index]).filter((l): l is Line => l?.measure !== undefined);
    const values = same.map((l) => l.value);
    const peers = same.map((l) => l.peerValue);
    const ratios = same.map((l) => l.ratio);
    const passes = same.map((l) => l.pass);
    const merged: Line = { ...line };
    const unit = line.unit;
    if (unit && values.every((v) => v !== undefined)) {
      const numbers = values as number[];
      merged.value = middle(numbers);
      merged.ours = unit(merged.value);
      merged.spread = spreadOf(numbers, unit);
      if (peers.every((v) => v !== undefined)) {
        merged.peerValue = middle(peers as number[]);
        merged.peer = `${line.peerName ? `${line.peerName} ` : ''}${unit(merged.peerValue)}`;
      }
    }
    if (ratios.every((v) => v !== undefined)) {
      merged.ratio = middle(ratios as number[]);
      merged.ratioSpread = spreadOf(ratios as number[], (r) => `${r.toFixed(2)}×`);
    }
    if (passes.some((p) => p !== undefined)) {
      const passed = passes.filter((p) => p === true).length;
      merged.pass = passed === same.length;
      merged.held = { passed, rounds: same.length };
    }
    merged.perRound = {
      ours: values.map((v) => (v === undefined ? null : v)),
      peer: peers.map((v) => (v === undefined ? null : v)),
      ratio: ratios.map((v) => (v === undefined || !Number.isFinite(v) ? null : v)),
      pass: passes.map((p) => (p === undefined ? null : p)),
    };
    return merged;
  });
  const last = rounds[rounds.length - 1] as RowResult;
  return {
    id: first.id,
    title: first.title,
    lines,
    notes: [
      ...last.notes,
      `${rounds.length} rounds in this run: medians, spread min–max; a target holds only if it held in every round.`,
    ],
    data: { rounds: rounds.map((round) => round.data) },
  };
}

function middle(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function spreadOf(values: readonly number[], unit: (value: number) => string): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return 'n/a';
  return `${unit(Math.min(...finite))}–${unit(Math.max(...finite))}`;
}

const HEADERS = ['#', 'measure', 'ours', 'spread', 'peer', 'ratio', 'ratio spread', 'target', 'ok'] as const;
/** Right-aligned columns: the figures. */
const NUMERIC = new Set([2, 3, 4, 5, 6]);

export function renderTable(rows: readonly RowResult[]): string {
  const cells: string[][] = [];
  for (const row of rows) {
    cells.push([String(row.id), `**${row.title}**`, '', '', '', '', '', '', '']);
    for (const line of row.lines) {
      cells.push([
        '',
        line.measure,
        line.ours,
        line.spread ?? '',
        line.peer ?? '',
        line.ratio === undefined ? '' : Number.isFinite(line.ratio) ? `${line.ratio.toFixed(2)}×` : 'n/a',
        line.ratioSpread ?? '',
        line.target ?? '',
        verdict(line),
      ]);
    }
  }
  const widths = HEADERS.map((header, column) =>
    Math.max(header.length, ...cells.map((cell) => width(cell[column] ?? ''))),
  );
  const format = (cell: readonly string[]) =>
    `| ${cell.map((text, column) => pad(text, widths[column] ?? 0, NUMERIC.has(column))).join(' | ')} |`;
  const rule = `|${widths.map((w, column) => (NUMERIC.has(column) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [format(HEADERS), rule, ...cells.map(format)].join('\n');
}

function verdict(line: Line): string {
  if (line.pass === undefined) return '';
  if (line.pass) return 'yes';
  return line.held && line.held.passed > 0 ? `NO (${line.held.passed}/${line.held.rounds})` : 'NO';
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
