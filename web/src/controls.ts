/**
 * The pipeline steps' controls (rect, rotate, flip, blur, …), drawn from the
 * parameter registry's descriptors: a new step is a new control without an
 * edit here. Each control is the field of its kind: a select for a choice, a
 * number input with the descriptor's range, a colour picker, a text field for a rect.
 */
import { PARAMS, type ParamDescriptor, type Rect, type STEPS } from '../../src/core/params/registry.js';
import { bgText, type VariantParams } from './variant.js';

type Step = (typeof STEPS)[number];
type Control = HTMLInputElement | HTMLSelectElement;

/** The steps in the registry's (the URL's) order, which is the order of the controls. */
const STEPS_IN_URL_ORDER = PARAMS.filter((d): d is Step => 'variant' in d);

function placeholder(d: ParamDescriptor): string {
  return d.kind === 'rect' ? 'whole image' : 'none';
}

function controlFor(d: Step): Control {
  if (d.kind === 'choice') {
    const select = document.createElement('select');
    // A choice without a neutral value may be left off: `none`.
    if (!('neutral' in d)) select.append(new Option('none', ''));
    const labels = ('choiceLabels' in d ? d.choiceLabels : undefined) as Record<string, string> | undefined;
    for (const choice of d.choices) {
      const value = String(choice);
      const unit = 'unit' in d && typeof choice === 'number' ? d.unit : '';
      select.append(new Option(labels?.[value] ?? `${value}${unit}`, value));
    }
    return select;
  }
  const input = document.createElement('input');
  if (d.kind === 'colour') {
    input.type = 'color';
    input.value = `#${bgText(String(d.neutral ?? 'ffffffff')).slice(0, 6)}`;
  } else if (d.kind === 'rect') {
    input.type = 'text';
    input.spellcheck = false;
  } else {
    input.type = 'number';
    input.inputMode = d.kind === 'integer' ? 'numeric' : 'decimal';
    input.min = String(d.lowest);
    input.max = String(d.highest);
    input.step = d.kind === 'integer' ? '1' : String(10 ** -d.decimals);
  }
  if (input.type !== 'color') input.placeholder = placeholder(d);
  return input;
}

/** Draws a field per step into `grid` (after what it holds); the controls by parameter name. */
export function drawStepControls(grid: HTMLElement): Record<string, Control> {
  const controls: Record<string, Control> = {};
  for (const d of STEPS_IN_URL_ORDER) {
    const field = document.createElement('div');
    field.className = 'field';
    const label = document.createElement('label');
    label.htmlFor = d.name;
    label.textContent = d.label;
    if ('unit' in d && d.kind !== 'choice') {
      const unit = document.createElement('span');
      unit.className = 'unit';
      unit.textContent = d.unit;
      label.append(' ', unit);
    }
    const control = controlFor(d);
    control.id = d.name;
    control.name = d.name;
    field.append(label, control);
    grid.append(field);
    controls[d.name] = control;
  }
  return controls;
}

/** `x,y,w,h` → a rect, or undefined for anything else (the server would refuse it anyway). */
export function parseRect(text: string): Rect | undefined {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length !== 4 || !parts.every((part) => /^\d+$/.test(part))) return undefined;
  const [x, y, width, height] = parts.map(Number) as [number, number, number, number];
  return width > 0 && height > 0 ? { x, y, width, height } : undefined;
}

/** A control's value as the step's value; undefined when it is empty (or not one the server takes). */
function readValue(d: Step, control: Control): unknown {
  const text = control.value.trim();
  switch (d.kind) {
    case 'rect':
      return parseRect(text);
    case 'colour': {
      const hex = `${text.replace('#', '').toLowerCase()}ff`;
      return hex.length === 8 ? hex : d.neutral;
    }
    case 'choice': {
      const choice = d.choices.find((c) => String(c) === text);
      return choice === undefined && 'neutral' in d ? d.neutral : choice;
    }
    default: {
      if (text === '') return undefined;
      const n = Number(text);
      if (!Number.isFinite(n)) return undefined;
      return d.kind === 'integer' ? Math.round(n) : n;
    }
  }
}

/** The steps' values of the controls. */
export function readStepControls(controls: Record<string, Control>): Partial<VariantParams> {
  const params: Record<string, unknown> = {};
  for (const d of STEPS_IN_URL_ORDER) params[d.name] = readValue(d, controls[d.name] as Control);
  return params as Partial<VariantParams>;
}

/** Sets the controls to the steps' values of `params` (a step left out shows its neutral value, or empty). */
export function writeStepControls(controls: Record<string, Control>, params: VariantParams): void {
  const values = params as Record<string, unknown>;
  for (const d of STEPS_IN_URL_ORDER) {
    const control = controls[d.name] as Control;
    const value = values[d.name] ?? ('neutral' in d ? d.neutral : undefined);
    if (d.kind === 'rect') {
      const r = value as Rect | undefined;
      control.value = r ? `${r.x},${r.y},${r.width},${r.height}` : '';
    } else if (d.kind === 'colour') {
      control.value = `#${bgText(String(value)).slice(0, 6)}`;
    } else {
      control.value = value === undefined ? '' : String(value);
    }
  }
}
