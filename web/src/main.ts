import './style.css';
import {
  displayName,
  errorFromResponse,
  forgetToken,
  getSettings,
  type ImageItem,
  resolveToken,
  storeToken,
  type TokenSource,
} from './api.js';
import { readStepControls, writeStepControls } from './controls.js';
import { $, clearError, el, isAuthError, showError, state, stepControls } from './page.js';
import { type CurrentVariant, initFormatsPanel, staleFormats } from './panels/formats.js';
import { addImage, initImagesPanel, placeholderUrl, refreshList, shortName } from './panels/images.js';
import { initOriginalPanel, renderRectBox, showOriginal } from './panels/original.js';
import { initSnippetsPanel, renderSnippets as renderSnippetsOf } from './panels/snippets.js';
import { initUploadPanel } from './panels/upload.js';
import {
  baselineParams,
  cacheStatus,
  DEFAULT_FORMAT,
  DEFAULT_QUALITY,
  DEFAULT_STAGE,
  expectedSize,
  type Fit,
  type Format,
  formatBytes,
  formatLabel,
  GRAVITIES,
  type Gravity,
  IMAGE_ACCEPT,
  MAX_DIMENSION,
  PRESET_ONLY_PARAMS,
  parseServerTiming,
  RANGES,
  savingPercent,
  type VariantParams,
  variantUrl,
} from './variant.js';

const PREVIEW_DEBOUNCE_MS = 250;
const MAX_PREVIEW_HEIGHT = 440;

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

interface VariantView {
  figure: HTMLElement;
  title: HTMLElement;
  frame: HTMLElement;
  placeholder: HTMLImageElement;
  preview: HTMLImageElement;
  stat: (name: string) => HTMLElement;
  objectUrl?: string;
}

function variantView(id: string): VariantView {
  const figure = $(id);
  const q = <T extends HTMLElement>(selector: string) => figure.querySelector(selector) as T;
  return {
    figure,
    title: q('.variant-title'),
    frame: q('.frame'),
    placeholder: q<HTMLImageElement>('img.placeholder'),
    preview: q<HTMLImageElement>('img.preview'),
    stat: (name) => q(`[data-stat="${name}"]`),
  };
}

/** Variant B is variant A's markup cloned, so the two panels cannot drift apart. */
function cloneVariant(fromId: string, id: string): void {
  const source = $(fromId);
  const copy = source.cloneNode(true) as HTMLElement;
  copy.id = id;
  copy.setAttribute('aria-labelledby', `${id}-title`);
  const title = copy.querySelector('.variant-title') as HTMLElement;
  title.id = `${id}-title`;
  title.textContent = 'B';
  copy.hidden = true;
  source.after(copy);
}

cloneVariant('variant-a', 'variant-b');
const views = { a: variantView('variant-a'), b: variantView('variant-b') };

interface VariantResult {
  url: string;
  bytes: number;
  contentType: string | null;
}

function schedulePreview(delay = PREVIEW_DEBOUNCE_MS): void {
  clearTimeout(state.previewTimer);
  staleFormats();
  renderSnippets();
  state.previewTimer = setTimeout(() => void updatePreviews(), delay);
}

const describe = (p: VariantParams) =>
  `${p.format === 'auto' ? 'auto' : formatLabel(`image/${p.format}`)}, q${p.quality}`;

async function updatePreviews(): Promise<void> {
  const item = state.selected;
  if (!item) return;
  state.previewAbort?.abort();
  const abort = new AbortController();
  state.previewAbort = abort;
  const a = paramsA();
  const comparing = el.compare.checked;
  views.b.figure.hidden = !comparing;
  el.compareSummary.hidden = true;
  views.a.title.textContent = comparing ? `A · ${describe(a)}` : 'Preview';
  const jobs = [loadVariant(views.a, item, a, abort.signal)];
  if (comparing) {
    const b = paramsB();
    views.b.title.textContent = `B · ${describe(b)}`;
    jobs.push(loadVariant(views.b, item, b, abort.signal));
  }
  const results = await Promise.all(jobs);
  if (abort.signal.aborted) return;
  const [ra, rb] = results;
  if (comparing && ra && rb) {
    const saving = savingPercent(ra.bytes, rb.bytes);
    const fa = formatLabel(ra.contentType);
    const fb = formatLabel(rb.contentType);
    el.compareSummary.textContent =
      Math.abs(saving) < 0.05
        ? `B (${fb}) is the same size as A (${fa}): ${formatBytes(rb.bytes)}.`
        : `B (${fb}, ${formatBytes(rb.bytes)}) is ${Math.abs(saving).toFixed(1)}% ${saving > 0 ? 'smaller' : 'larger'} than A (${fa}, ${formatBytes(ra.bytes)}).`;
    el.compareSummary.dataset.saving = saving.toFixed(1);
    el.compareSummary.hidden = false;
  }
}

/** The largest box of ratio w:h that fits the frame, never larger than the CSS size itself. */
function displayBox(view: VariantView, cssWidth: number, cssHeight: number): { width: number; height: number } {
  const available = Math.max(80, view.frame.clientWidth - 2);
  const scale = Math.min(1, available / cssWidth, MAX_PREVIEW_HEIGHT / cssHeight);
  return { width: Math.max(1, Math.round(cssWidth * scale)), height: Math.max(1, Math.round(cssHeight * scale)) };
}

function applyBox(img: HTMLImageElement, box: { width: number; height: number }): void {
  img.style.width = `${box.width}px`;
  img.style.height = `${box.height}px`;
}

/**
 * Fetches the real image URL (the browser's image `Accept`, so `format=auto`
 * negotiates as an `<img>` would; `no-store`, so X-Cache says what the CDN
 * did, not the browser cache) and shows the bytes it got, over the ThumbHash.
 */
async function loadVariant(
  view: VariantView,
  item: ImageItem,
  params: VariantParams,
  signal: AbortSignal,
): Promise<VariantResult | undefined> {
  const url = imageUrl(item.key, params);
  const expected = expectedSize(item, params);
  const placeholder = placeholderUrl(item);
  view.figure.setAttribute('aria-busy', 'true');
  view.frame.classList.add('is-loading');
  view.preview.classList.remove('loaded');
  view.preview.dataset.src = url;
  if (placeholder) {
    view.placeholder.src = placeholder;
    applyBox(view.placeholder, displayBox(view, expected.width / params.dpr, expected.height / params.dpr));
    view.placeholder.hidden = false;
  } else {
    view.placeholder.hidden = true;
  }
  const link = document.createElement('a');
  link.href = url;
  link.target = '_blank';
  link.rel = 'noopener';
  link.textContent = url;
  view.stat('url').replaceChildren(link);
  try {
    const started = performance.now();
    const response = await fetch(url, { headers: { Accept: IMAGE_ACCEPT }, cache: 'no-store', signal });
    if (!response.ok) {
      throw await errorFromResponse(response);
    }
    const blob = await response.blob();
    const elapsed = performance.now() - started;
    if (signal.aborted) return undefined;
    const objectUrl = URL.createObjectURL(blob);
    const previous = view.objectUrl;
    view.objectUrl = objectUrl;
    view.preview.src = objectUrl;
    view.preview.alt = `${displayName(item)} at ${url}`;
    await view.preview.decode();
    if (previous) URL.revokeObjectURL(previous);
    if (signal.aborted) return undefined;

    const { naturalWidth, naturalHeight } = view.preview;
    applyBox(view.preview, displayBox(view, naturalWidth / params.dpr, naturalHeight / params.dpr));
    view.preview.classList.add('loaded');
    view.placeholder.hidden = true;

    const contentType = response.headers.get('content-type');
    const length = Number(response.headers.get('content-length'));
    const bytes = Number.isFinite(length) && length > 0 ? length : blob.size;
    const cache = response.headers.get('x-cache');
    view.stat('pixels').textContent = `${naturalWidth}×${naturalHeight}`;
    view.stat('bytes').textContent = `${formatBytes(bytes)} (${bytes.toLocaleString('en')} B)`;
    view.stat('bytes').dataset.bytes = String(bytes);
    view.stat('format').textContent = `${formatLabel(contentType)} (${contentType ?? 'no Content-Type'})`;
    const status = cacheStatus(cache);
    const cacheCell = view.stat('cache');
    cacheCell.textContent = cache ?? 'no X-Cache header';
    cacheCell.dataset.cache = status;
    renderTiming(view.stat('timing'), response.headers.get('server-timing'), elapsed, status === 'hit');
    if (view === views.a) renderSnippets({ width: naturalWidth, height: naturalHeight, dpr: params.dpr });
    clearError('preview');
    return { url, bytes, contentType };
  } catch (error) {
    if (signal.aborted) return undefined;
    view.placeholder.hidden = true;
    view.preview.removeAttribute('src');
    for (const name of ['pixels', 'bytes', 'format', 'cache', 'timing']) view.stat(name).textContent = '—';
    showError('preview', `Could not load ${url}`, error);
    return undefined;
  } finally {
    if (!signal.aborted) {
      view.figure.removeAttribute('aria-busy');
      view.frame.classList.remove('is-loading');
    }
  }
}

function renderTiming(cell: HTMLElement, header: string | null, elapsedMs: number, hit: boolean): void {
  const entries = parseServerTiming(header);
  cell.replaceChildren();
  if (!entries.length) {
    cell.textContent = `none sent${hit ? ' (a cache hit)' : ''}; ${elapsedMs.toFixed(0)} ms in the browser`;
    return;
  }
  const list = document.createElement('ul');
  list.className = 'timing';
  const total = entries.reduce((sum, e) => sum + (e.dur ?? 0), 0);
  for (const entry of entries) {
    const li = document.createElement('li');
    li.dataset.timing = entry.name;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.setProperty('--share', String(total > 0 ? (entry.dur ?? 0) / total : 0));
    li.append(`${entry.name} ${entry.dur === undefined ? '' : `${entry.dur.toFixed(1)} ms`}`, bar);
    list.append(li);
  }
  const footer = document.createElement('li');
  footer.className = 'timing-total';
  // A cached response keeps the headers of the miss that made it, as CloudFront's cache does.
  footer.textContent = hit
    ? `${total.toFixed(1)} ms when this derivative was made; this request was a cache hit (${elapsedMs.toFixed(0)} ms in the browser)`
    : `total ${total.toFixed(1)} ms on the server, ${elapsedMs.toFixed(0)} ms in the browser`;
  list.append(footer);
  cell.append(list);
}

// ---------------------------------------------------------------- original: focal point and rect

initOriginalPanel({ changed: () => schedulePreview(0) });

// Resizing the window changes the frame's width: refit the preview boxes.
let resizeFrame = 0;
window.addEventListener('resize', () => {
  cancelAnimationFrame(resizeFrame);
  resizeFrame = requestAnimationFrame(() => {
    for (const view of [views.a, views.b]) {
      const img = view.preview;
      if (!img.classList.contains('loaded') || !img.naturalWidth) continue;
      const dpr = Number(el.dpr.value) || 1;
      applyBox(img, displayBox(view, img.naturalWidth / dpr, img.naturalHeight / dpr));
    }
  });
});

renderTokenState();
void initToken();
