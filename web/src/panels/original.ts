/**
 * The original panel: the whole image, small; a click stores its focal point
 * (PATCH, which purges the key's derivatives), a drag draws `rect` in the
 * displayed original's pixels.
 */
import { type ImageItem, saveFocalPoint } from '../api.js';
import { parseRect } from '../controls.js';
import { clearError, el, isAuthError, showError, state } from '../page.js';
import { defaultParams, variantUrl } from '../variant.js';

export interface OriginalHooks {
  /** The focal point or the rect changed: render the variants again. */
  changed(): void;
}

/** The whole original, small: the frame the focal point and `rect` are given in (displayed pixels). */
export function showOriginal(item: ImageItem): void {
  const width = Math.min(item.width, 960);
  el.originalImg.src = variantUrl(item.key, { ...defaultParams(), width: width < item.width ? width : undefined });
  el.originalImg.dataset.key = item.key;
  el.focalStatus.textContent = item.focalPoint
    ? `Stored focal point: ${item.focalPoint.x}, ${item.focalPoint.y}`
    : 'No focal point stored: gravity=focal crops around the centre.';
  renderFocalMarker();
  renderRectBox();
}

function renderFocalMarker(): void {
  const point = state.selected?.focalPoint;
  el.focalMarker.hidden = !point;
  if (point) {
    el.focalMarker.style.left = `${point.x * 100}%`;
    el.focalMarker.style.top = `${point.y * 100}%`;
  }
}

export function renderRectBox(box?: { left: number; top: number; width: number; height: number }): void {
  const item = state.selected;
  const rect = parseRect(el.rect.value);
  const shown =
    box ??
    (item && rect
      ? {
          left: rect.x / item.width,
          top: rect.y / item.height,
          width: rect.width / item.width,
          height: rect.height / item.height,
        }
      : undefined);
  el.rectBox.hidden = !shown;
  if (shown) {
    el.rectBox.style.left = `${shown.left * 100}%`;
    el.rectBox.style.top = `${shown.top * 100}%`;
    el.rectBox.style.width = `${shown.width * 100}%`;
    el.rectBox.style.height = `${shown.height * 100}%`;
  }
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
/** Where a pointer is, as fractions of the displayed original. */
function fractionAt(event: PointerEvent): { x: number; y: number } {
  const box = el.originalImg.getBoundingClientRect();
  return { x: clamp01((event.clientX - box.left) / box.width), y: clamp01((event.clientY - box.top) / box.height) };
}

let drag: { start: { x: number; y: number }; startPx: { x: number; y: number }; moved: boolean } | undefined;

/** Stores the focal point with PATCH (which purges the key's derivatives), then re-renders the crops. */
async function setFocal(item: ImageItem, point: { x: number; y: number } | null, hooks: OriginalHooks): Promise<void> {
  if (!state.token) {
    showError('token', 'Cannot save the focal point', new Error('enter the API token first'));
    return;
  }
  el.focalStatus.textContent = point ? `Saving focal point ${point.x}, ${point.y}…` : 'Clearing the focal point…';
  try {
    const saved = await saveFocalPoint(state.token.token, item.key, point);
    item.focalPoint = saved.focalPoint ?? null;
    state.images.set(item.key, item);
    clearError('focal');
  } catch (error) {
    el.focalStatus.textContent = 'The focal point was not saved.';
    showError(isAuthError(error) ? 'token' : 'focal', 'Could not save the focal point', error);
    return;
  }
  if (state.selected !== item) return;
  // The stored point decides only with gravity=focal and no fx/fy in the URL.
  el.fx.value = '';
  el.fy.value = '';
  el.gravity.value = 'focal';
  el.focalStatus.textContent = item.focalPoint
    ? `Focal point saved: ${item.focalPoint.x}, ${item.focalPoint.y} (gravity=focal; the crops re-render)`
    : 'Focal point cleared: gravity=focal crops around the centre.';
  el.focalStatus.dataset.focal = item.focalPoint ? `${item.focalPoint.x},${item.focalPoint.y}` : '';
  renderFocalMarker();
  hooks.changed();
}

/** Wires the picture: a click stores the focal point, a drag sets `rect`. */
export function initOriginalPanel(hooks: OriginalHooks): void {
  el.originalStage.addEventListener('pointerdown', (event) => {
    if (!state.selected || !el.originalImg.naturalWidth) return;
    event.preventDefault();
    el.originalStage.setPointerCapture(event.pointerId);
    drag = { start: fractionAt(event), startPx: { x: event.clientX, y: event.clientY }, moved: false };
  });
  el.originalStage.addEventListener('pointermove', (event) => {
    if (!drag) return;
    if (Math.hypot(event.clientX - drag.startPx.x, event.clientY - drag.startPx.y) > 4) drag.moved = true;
    if (!drag.moved) return;
    const end = fractionAt(event);
    renderRectBox({
      left: Math.min(drag.start.x, end.x),
      top: Math.min(drag.start.y, end.y),
      width: Math.abs(end.x - drag.start.x),
      height: Math.abs(end.y - drag.start.y),
    });
  });
  el.originalStage.addEventListener('pointerup', (event) => {
    const item = state.selected;
    const done = drag;
    drag = undefined;
    if (!item || !done) return;
    const end = fractionAt(event);
    if (!done.moved) {
      void setFocal(item, { x: Math.round(end.x * 1000) / 1000, y: Math.round(end.y * 1000) / 1000 }, hooks);
      return;
    }
    // In the displayed original's pixels, inside the image, at least 1×1.
    const x = Math.min(item.width - 1, Math.round(Math.min(done.start.x, end.x) * item.width));
    const y = Math.min(item.height - 1, Math.round(Math.min(done.start.y, end.y) * item.height));
    const w = Math.max(1, Math.min(item.width - x, Math.round(Math.abs(end.x - done.start.x) * item.width)));
    const h = Math.max(1, Math.min(item.height - y, Math.round(Math.abs(end.y - done.start.y) * item.height)));
    el.rect.value = `${x},${y},${w},${h}`;
    renderRectBox();
    hooks.changed();
  });
  el.originalStage.addEventListener('pointercancel', () => {
    drag = undefined;
    renderRectBox();
  });
  el.rect.addEventListener('input', () => renderRectBox());
  el.clearRect.addEventListener('click', () => {
    el.rect.value = '';
    renderRectBox();
    hooks.changed();
  });
  el.clearFocal.addEventListener('click', () => {
    if (state.selected) void setFocal(state.selected, null, hooks);
  });
}
