/**
 * The docs' parameter table (docs/url-api.md), written from the descriptors;
 * test/core/param-registry.test.ts checks the page holds exactly this table.
 */
import { PARAMS, type ParamDescriptor } from './registry.js';

function values(d: ParamDescriptor): string {
  switch (d.kind) {
    case 'integer':
      return `integer ${d.lowest}–${d.highest === 'maxDimension' ? 'the stage’s `maxDimension`' : d.highest}`;
    case 'decimal':
      return `${d.lowest}–${d.highest}, at most ${d.decimals} decimal${d.decimals === 1 ? '' : 's'}`;
    case 'choice':
      return d.choices.map((c) => `\`${c}\``).join(', ');
    case 'colour':
      return 'hex `rgb`, `rgba`, `rrggbb` or `rrggbbaa`';
    case 'rect':
      return '`x,y,w,h` integers, `w` and `h` at least 1';
    case 'preset':
      return 'a preset name';
  }
}

/** The markdown table: name, values, neutral value, derivative-key part, what it does. */
export function parameterTable(params: readonly ParamDescriptor[] = PARAMS): string {
  const rows = params.map((d) => {
    const neutral = d.neutral === undefined ? '' : `\`${d.neutral}\``;
    const key = d.variant ? `\`${d.variant.token}…\`` : '';
    return `| \`${d.name}\` | ${values(d)} | ${neutral} | ${key} | ${d.doc} |`;
  });
  return ['| Parameter | Values | Neutral | Key part | What it does |', '|---|---|---|---|---|', ...rows].join('\n');
}
