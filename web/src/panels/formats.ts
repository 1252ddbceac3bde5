/**
 * The formats panel: on demand, each format of the current variant, its bytes
 * and SSIM against a lossless PNG of the same variant.
 */
import { formatBytes } from '../../../src/core/format-bytes.js';
import { errorFromResponse } from '../api.js';
import { clearError, el, showError, state } from '../page.js';
import { type Format, formatLabel, IMAGE_ACCEPT, savingPercent, ssim, type VariantParams } from '../variant.js';

/** The variant the controls describe now, and how its URLs are written; undefined with no image selected. */
export type CurrentVariant = () =>
  | { key: string; params: VariantParams; urlOf: (key: string, params: VariantParams) => string }
  | undefined;

const COMPARED_FORMATS: readonly Format[] = ['avif', 'webp', 'jpeg', 'auto'];
/** Scored at most this many pixels on the longest side, so a large variant stays quick to score. */
const SCORE_MAX_SIDE = 1024;

async function pixelsOf(blob: Blob, width: number, height: number): Promise<Uint8ClampedArray> {
  const bitmap = await createImageBitmap(blob);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  return context.getImageData(0, 0, width, height).data;
}

async function fetchVariant(path: string, signal: AbortSignal) {
  const response = await fetch(path, { headers: { Accept: IMAGE_ACCEPT }, cache: 'no-store', signal });
  if (!response.ok) throw await errorFromResponse(response);
  const blob = await response.blob();
  return { blob, contentType: response.headers.get('content-type'), bytes: blob.size };
}

/** On demand (the button): each format of the current variant, its bytes and SSIM against a lossless PNG. */
async function compareFormats(variant: CurrentVariant): Promise<void> {
  const current = variant();
  if (!current) return;
  const { key, params: base, urlOf: imageUrl } = current;
  state.formatsAbort?.abort();
  const abort = new AbortController();
  state.formatsAbort = abort;
  const body = el.formatsTable.tBodies[0] as HTMLTableSectionElement;
  body.replaceChildren();
  el.formatsTable.hidden = true;
  el.formats.setAttribute('aria-busy', 'true');
  el.compareFormats.disabled = true;
  try {
    el.formatsStatus.textContent = 'Fetching the lossless reference (PNG)…';
    const reference = await fetchVariant(imageUrl(key, { ...base, format: 'png' }), abort.signal);
    const refBitmap = await createImageBitmap(reference.blob);
    const scale = Math.min(1, SCORE_MAX_SIDE / Math.max(refBitmap.width, refBitmap.height));
    const w = Math.max(1, Math.round(refBitmap.width * scale));
    const h = Math.max(1, Math.round(refBitmap.height * scale));
    refBitmap.close();
    const refPixels = await pixelsOf(reference.blob, w, h);
    const rows: Array<{ format: Format; contentType: string | null; bytes: number; score: number; path: string }> = [];
    for (const format of COMPARED_FORMATS) {
      el.formatsStatus.textContent = `Fetching and scoring ${format}…`;
      const path = imageUrl(key, { ...base, format });
      const got = await fetchVariant(path, abort.signal);
      const score = ssim(refPixels, await pixelsOf(got.blob, w, h), w, h);
      rows.push({ format, contentType: got.contentType, bytes: got.bytes, score, path });
    }
    if (abort.signal.aborted) return;
    const jpeg = rows.find((row) => row.format === 'jpeg');
    const smallest = Math.min(...rows.map((row) => row.bytes));
    for (const row of rows) {
      const tr = document.createElement('tr');
      tr.dataset.format = row.format;
      tr.dataset.bytes = String(row.bytes);
      tr.dataset.score = row.score.toFixed(4);
      tr.dataset.contentType = row.contentType ?? '';
      tr.dataset.best = String(row.bytes === smallest);
      const saving = jpeg ? savingPercent(jpeg.bytes, row.bytes) : 0;
      const cells = [
        row.format,
        formatLabel(row.contentType),
        formatBytes(row.bytes),
        row.format === 'jpeg' ? '—' : `${saving >= 0 ? '−' : '+'}${Math.abs(saving).toFixed(0)}%`,
        row.score.toFixed(4),
      ];
      cells.forEach((text, i) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (i >= 2) td.className = 'num';
        tr.append(td);
      });
      body.append(tr);
    }
    el.formatsTable.hidden = false;
    const auto = rows.find((row) => row.format === 'auto');
    el.formatsStatus.textContent =
      auto && jpeg
        ? `auto served ${formatLabel(auto.contentType)}: ${formatBytes(auto.bytes)} against JPEG's ${formatBytes(jpeg.bytes)} (${savingPercent(jpeg.bytes, auto.bytes).toFixed(0)}% fewer bytes), SSIM ${auto.score.toFixed(4)} against ${jpeg.score.toFixed(4)}; scored at ${w}×${h}.`
        : '';
    clearError('formats');
  } catch (error) {
    if (abort.signal.aborted) return;
    el.formatsStatus.textContent = 'The comparison failed.';
    showError('formats', 'Could not compare formats', error);
  } finally {
    if (state.formatsAbort === abort) {
      el.formats.removeAttribute('aria-busy');
      el.compareFormats.disabled = false;
    }
  }
}

/** A changed variant makes the table stale: cleared, compared again on demand. */
export function staleFormats(): void {
  if (el.formatsTable.hidden && !state.formatsAbort) return;
  state.formatsAbort?.abort();
  state.formatsAbort = undefined;
  el.formats.removeAttribute('aria-busy');
  el.compareFormats.disabled = false;
  el.formatsTable.hidden = true;
  (el.formatsTable.tBodies[0] as HTMLTableSectionElement).replaceChildren();
  el.formatsStatus.textContent = 'The variant changed: compare again.';
}

/** Wires the panel's button to the variant the controls describe. */
export function initFormatsPanel(variant: CurrentVariant): void {
  el.compareFormats.addEventListener('click', () => void compareFormats(variant));
}
