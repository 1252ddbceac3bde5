/**
 * The preview panel: variant A (and B, to compare) fetched from its real image
 * URL with the browser's image `Accept`, shown over the ThumbHash with its
 * pixel size, bytes, format, cache status and Server-Timing.
 */
import { formatBytes } from '../../../src/core/format-bytes.js';
import { displayName, errorFromResponse, type ImageItem } from '../api.js';
import { $, clearError, el, showError, state } from '../page.js';
import {
  cacheStatus,
  expectedSize,
  formatLabel,
  IMAGE_ACCEPT,
  parseServerTiming,
  savingPercent,
  type VariantParams,
} from '../variant.js';
import { placeholderUrl } from './images.js';

const MAX_PREVIEW_HEIGHT = 440;

export interface PreviewHooks {
  paramsA(): VariantParams;
  /** Variant B: A with the compare controls' format and quality. */
  paramsB(): VariantParams;
  urlOf(key: string, params: VariantParams): string;
  /** Variant A loaded: its real pixel size. */
  loaded(output: { width: number; height: number; dpr: number }): void;
}

let hooks: PreviewHooks;

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

let views: { a: VariantView; b: VariantView };

interface VariantResult {
  url: string;
  bytes: number;
  contentType: string | null;
}

const describe = (p: VariantParams) =>
  `${p.format === 'auto' ? 'auto' : formatLabel(`image/${p.format}`)}, q${p.quality}`;

/** Loads variant A (and B when comparing) for the selected image, then compares their bytes. */
export async function updatePreviews(): Promise<void> {
  const item = state.selected;
  if (!item) return;
  state.previewAbort?.abort();
  const abort = new AbortController();
  state.previewAbort = abort;
  const a = hooks.paramsA();
  const comparing = el.compare.checked;
  views.b.figure.hidden = !comparing;
  el.compareSummary.hidden = true;
  views.a.title.textContent = comparing ? `A · ${describe(a)}` : 'Preview';
  const jobs = [loadVariant(views.a, item, a, abort.signal)];
  if (comparing) {
    const b = hooks.paramsB();
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
  const url = hooks.urlOf(item.key, params);
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
    if (view === views.a) hooks.loaded({ width: naturalWidth, height: naturalHeight, dpr: params.dpr });
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

/** Clones variant B from A and refits the previews when the window is resized. */
export function initPreviewPanel(panelHooks: PreviewHooks): void {
  hooks = panelHooks;
  cloneVariant('variant-a', 'variant-b');
  views = { a: variantView('variant-a'), b: variantView('variant-b') };
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
}
