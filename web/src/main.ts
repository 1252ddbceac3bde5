/**
 * The playground page, the composition of its panels: the token, the
 * variant's controls and the preview's scheduling live here; the images list,
 * upload, preview, original, formats and snippets panels are in panels/, the
 * registry-drawn step controls in controls.ts, what they share in page.ts,
 * and the pure URL and snippet logic in variant.ts.
 */
import { formatBytes } from '../../src/core/format-bytes.js';
import './style.css';
import { forgetToken, getSettings, type ImageItem, resolveToken, storeToken, type TokenSource } from './api.js';
import { readStepControls, writeStepControls } from './controls.js';
import { $, clearError, el, isAuthError, showError, state, stepControls } from './page.js';
import { type CurrentVariant, initFormatsPanel, staleFormats } from './panels/formats.js';
import { addImage, initImagesPanel, refreshList, shortName } from './panels/images.js';
import { initOriginalPanel, renderRectBox, showOriginal } from './panels/original.js';
import { initPreviewPanel, updatePreviews } from './panels/preview.js';
import { initSnippetsPanel, renderSnippets as renderSnippetsOf } from './panels/snippets.js';
import { initUploadPanel } from './panels/upload.js';
import {
  baselineParams,
  DEFAULT_FORMAT,
  DEFAULT_QUALITY,
  DEFAULT_STAGE,
  type Fit,
  type Format,
  formatLabel,
  GRAVITIES,
  type Gravity,
  MAX_DIMENSION,
  PRESET_ONLY_PARAMS,
  RANGES,
  type VariantParams,
  variantUrl,
} from './variant.js';

const PREVIEW_DEBOUNCE_MS = 250;

// ---------------------------------------------------------------- token

function renderTokenState(): void {
  const labels: Record<TokenSource, string> = {
    local: 'Token: from the local CDN',
    session: 'Token: saved in this tab',
  };
  el.tokenState.textContent = state.token ? labels[state.token.source] : 'No API token';
  el.changeToken.textContent = state.token ? 'Change token' : 'Enter token';
}

function openTokenPanel(): void {
  el.tokenPanel.hidden = false;
  el.tokenInput.value = '';
  el.tokenInput.focus();
}

function closeTokenPanel(): void {
  el.tokenPanel.hidden = true;
}

async function initToken(): Promise<void> {
  state.token = await resolveToken();
  renderTokenState();
  if (state.token) {
    closeTokenPanel();
    void loadSettings();
    void refreshList();
  } else {
    el.listStatus.textContent = 'Enter the API token to list and upload images.';
    openTokenPanel();
  }
}

el.changeToken.addEventListener('click', () => (el.tokenPanel.hidden ? openTokenPanel() : closeTokenPanel()));
el.tokenCancel.addEventListener('click', () => {
  closeTokenPanel();
  el.changeToken.focus();
});
el.tokenForget.addEventListener('click', () => {
  forgetToken();
  closeTokenPanel();
  void initToken();
});
el.tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = el.tokenInput.value.trim();
  if (!token) return;
  storeToken(token);
  state.token = { token, source: 'session' };
  renderTokenState();
  closeTokenPanel();
  clearError('token');
  void loadSettings();
  void refreshList();
});

// ---------------------------------------------------------------- list

initImagesPanel({ select: (item, options) => select(item, options) });

// ---------------------------------------------------------------- upload

initUploadPanel({
  askForToken: openTokenPanel,
  uploaded(item) {
    addImage(item, 'start');
    el.listStatus.textContent = '';
    select(item, { reveal: true });
  },
});

// ---------------------------------------------------------------- editor

/** Scrolls the list (a column on desktop, a strip on a phone) to show `card`, never the page. */
function revealInList(card: HTMLElement): void {
  const list = el.imageList;
  const box = card.getBoundingClientRect();
  const view = list.getBoundingClientRect();
  if (box.left < view.left || box.right > view.right) list.scrollLeft += box.left - view.left - 8;
  if (box.top < view.top || box.bottom > view.bottom) list.scrollTop += box.top - view.top - 8;
}

function select(item: ImageItem, options: { reveal?: boolean } = {}): void {
  state.selected = item;
  for (const card of el.imageList.querySelectorAll<HTMLElement>('.card')) {
    const selected = card.dataset.key === item.key;
    card.setAttribute('aria-pressed', String(selected));
    if (selected && options.reveal) revealInList(card);
  }
  history.replaceState(null, '', `#image=${encodeURIComponent(item.key)}`);
  el.editorTitle.textContent = shortName(item);
  el.originalInfo.textContent = `${item.key} · original ${item.width}×${item.height} px, ${formatLabel(item.contentType)}, ${formatBytes(item.bytes)}`;
  el.editorBody.hidden = false;
  el.controls.hidden = false;
  const maxW = Math.min(item.width, MAX_DIMENSION);
  const maxH = Math.min(item.height, MAX_DIMENSION);
  el.widthRange.max = String(maxW);
  el.heightRange.max = String(maxH);
  // Sizes carry over between images, capped at what this one can give.
  for (const [number, max] of [
    [el.widthNumber, maxW],
    [el.heightNumber, maxH],
  ] as const) {
    if (number.value && Number(number.value) > max) number.value = String(max);
  }
  syncRanges();
  showOriginal(item);
  staleFormats();
  schedulePreview(0);
}

function numberValue(input: HTMLInputElement): number | undefined {
  if (input.value.trim() === '') return undefined;
  const n = Number(input.value);
  return Number.isFinite(n) ? Math.round(n) : undefined;
}

function decimalValue(input: HTMLInputElement): number | undefined {
  if (input.value.trim() === '') return undefined;
  const n = Number(input.value);
  return Number.isFinite(n) ? n : undefined;
}

function paramsA(): VariantParams {
  return {
    width: numberValue(el.widthNumber),
    height: numberValue(el.heightNumber),
    fit: el.fit.value as Fit,
    format: el.format.value as Format,
    quality: Number(el.quality.value) || DEFAULT_QUALITY,
    dpr: Number(el.dpr.value) || 1,
    preset: el.preset.value || undefined,
    gravity: (el.gravity.value as Gravity) || undefined,
    fx: decimalValue(el.fx),
    fy: decimalValue(el.fy),
    ...readStepControls(stepControls),
  };
}

const imageUrl = (key: string, params: VariantParams) => variantUrl(key, params, state.stage);

/** Variant A, as the formats and snippets panels see it. */
const currentVariant: CurrentVariant = () =>
  state.selected ? { key: state.selected.key, params: paramsA(), urlOf: imageUrl } : undefined;
const renderSnippets = (output?: { width: number; height: number; dpr: number }) =>
  renderSnippetsOf(currentVariant, output);
initFormatsPanel(currentVariant);
initSnippetsPanel();

// ---------------------------------------------------------------- crop and effect controls

function fillSelect(select: HTMLSelectElement, values: readonly (string | number)[], label = (v: string) => v): void {
  for (const value of values) {
    const option = document.createElement('option');
    option.value = String(value);
    option.textContent = label(String(value));
    select.append(option);
  }
}

// Open on a wide screen; on a phone the preview comes first and the effects fold away.
$<HTMLDetailsElement>('effects').open = window.matchMedia('(min-width: 900px)').matches;
fillSelect(el.gravity, GRAVITIES);
el.gravity.value = DEFAULT_STAGE.defaultGravity;
for (const [input, range, step] of [
  [el.fx, RANGES.focal, '0.001'],
  [el.fy, RANGES.focal, '0.001'],
] as const) {
  input.min = String(range.min);
  input.max = String(range.max);
  input.step = step;
}

/** Sets every control to `params` (a preset's expansion over the defaults, for instance). */
function applyControls(params: VariantParams): void {
  el.widthNumber.value = params.width === undefined ? '' : String(params.width);
  el.heightNumber.value = params.height === undefined ? '' : String(params.height);
  el.fit.value = params.fit;
  el.format.value = params.format;
  el.quality.value = String(params.quality);
  el.dpr.value = String(params.dpr);
  el.gravity.value = params.gravity ?? state.stage.defaultGravity;
  el.fx.value = params.fx === undefined ? '' : String(params.fx);
  el.fy.value = params.fy === undefined ? '' : String(params.fy);
  writeStepControls(stepControls, params);
  syncRanges();
  renderRectBox();
}

function renderPresetExpansion(): void {
  const name = el.preset.value;
  const names = Object.keys(state.stage.presets);
  if (!names.length) el.presetExpansion.textContent = 'This stage defines no presets.';
  else if (!name) el.presetExpansion.textContent = `${names.length} preset(s): pick one to see what it expands to.`;
  else el.presetExpansion.textContent = `${name} = ${state.stage.presets[name]}`;
  el.presetExpansion.dataset.expansion = name ? (state.stage.presets[name] ?? '') : '';
}

el.preset.addEventListener('change', () => {
  applyControls(baselineParams(el.preset.value || undefined, state.stage));
  renderPresetExpansion();
});

/** Under `presetPolicy: only` the server refuses every parameter but preset, format and dpr. */
function applyPresetPolicy(): void {
  const only = state.stage.presetPolicy === 'only';
  const allowed = new Set<string>(PRESET_ONLY_PARAMS);
  for (const control of el.controls.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select')) {
    const name = control.name || control.id;
    if (['preset', 'format', 'dpr', 'compare', 'format-b', 'quality-b'].includes(name)) continue;
    control.disabled = only && !allowed.has(name);
  }
}

async function loadSettings(): Promise<void> {
  if (!state.token) return;
  try {
    state.stage = await getSettings(state.token.token);
  } catch (error) {
    showError(isAuthError(error) ? 'token' : 'settings', 'Could not read the stage settings', error);
    return;
  }
  const current = el.preset.value;
  el.preset.replaceChildren();
  fillSelect(el.preset, ['', ...Object.keys(state.stage.presets)], (v) => v || 'none');
  el.preset.value = current in state.stage.presets ? current : '';
  if (!el.gravity.dataset.touched) el.gravity.value = state.stage.defaultGravity;
  for (const option of el.gravity.options) {
    option.textContent = option.value === state.stage.defaultGravity ? `${option.value} (default)` : option.value;
  }
  el.quality.max = String(RANGES.quality.max);
  renderPresetExpansion();
  applyPresetPolicy();
  schedulePreview(0);
}
el.gravity.addEventListener('change', () => {
  el.gravity.dataset.touched = 'true';
});

function paramsB(): VariantParams {
  return {
    ...paramsA(),
    format: (el.formatB.value as Format) || DEFAULT_FORMAT,
    quality: Number(el.qualityB.value) || DEFAULT_QUALITY,
  };
}

/** The ranges show the number's value, or sit at the original's size when it is "auto". */
function syncRanges(): void {
  el.widthRange.value = el.widthNumber.value || el.widthRange.max;
  el.heightRange.value = el.heightNumber.value || el.heightRange.max;
  el.qualityValue.value = el.quality.value;
  el.qualityBValue.value = el.qualityB.value;
}

el.widthRange.addEventListener('input', () => {
  el.widthNumber.value = el.widthRange.value;
  schedulePreview();
});
el.heightRange.addEventListener('input', () => {
  el.heightNumber.value = el.heightRange.value;
  schedulePreview();
});
el.resetSize.addEventListener('click', () => {
  el.widthNumber.value = '';
  el.heightNumber.value = '';
  el.dpr.value = '1';
  syncRanges();
  schedulePreview();
});
el.compare.addEventListener('change', () => {
  for (const field of el.controls.querySelectorAll<HTMLElement>('.compare-only')) field.hidden = !el.compare.checked;
});
el.controls.addEventListener('input', (event) => {
  if (event.target !== el.widthRange && event.target !== el.heightRange) syncRanges();
  schedulePreview();
});
el.controls.addEventListener('change', () => schedulePreview());
el.controls.addEventListener('submit', (event) => event.preventDefault());
for (const input of [el.srcsetWidths, el.srcsetSizes]) input.addEventListener('input', () => renderSnippets());

// ---------------------------------------------------------------- preview

initPreviewPanel({
  paramsA,
  paramsB,
  urlOf: imageUrl,
  loaded: (output) => renderSnippets(output),
});

function schedulePreview(delay = PREVIEW_DEBOUNCE_MS): void {
  clearTimeout(state.previewTimer);
  staleFormats();
  renderSnippets();
  state.previewTimer = setTimeout(() => void updatePreviews(), delay);
}

// ---------------------------------------------------------------- original: focal point and rect

initOriginalPanel({ changed: () => schedulePreview(0) });

renderTokenState();
void initToken();
