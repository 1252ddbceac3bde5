/**
 * The images panel: the list streamed from `GET /api/images`, a card per
 * image over its ThumbHash placeholder; a card selects its image.
 */

import { thumbHashToDataURL } from 'thumbhash';
import { formatBytes } from '../../../src/core/format-bytes.js';
import { displayName, type ImageItem, listImages } from '../api.js';
import { clearError, el, isAuthError, showError, state } from '../page.js';
import { defaultParams, type VariantParams, variantUrl } from '../variant.js';

export interface ImagesHooks {
  /** Opens an image in the editor (`reveal`: scroll its card into view). */
  select(item: ImageItem, options?: { reveal?: boolean }): void;
}

let hooks: ImagesHooks = { select: () => {} };

/** Sets what a card (or the list's first image) does when picked. */
export function initImagesPanel(panelHooks: ImagesHooks): void {
  hooks = panelHooks;
}

const thumbhashCache = new Map<string, string>();

/** The ThumbHash placeholder as a data URL, or undefined if the image has none. */
export function placeholderUrl(item: ImageItem): string | undefined {
  if (!item.thumbhash) return undefined;
  let url = thumbhashCache.get(item.thumbhash);
  if (!url) {
    try {
      const bytes = Uint8Array.from(atob(item.thumbhash), (c) => c.charCodeAt(0));
      url = thumbHashToDataURL(bytes);
      thumbhashCache.set(item.thumbhash, url);
    } catch {
      return undefined;
    }
  }
  return url;
}

function renderCard(item: ImageItem): HTMLLIElement {
  const li = document.createElement('li');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'card';
  button.dataset.key = item.key;
  button.setAttribute('aria-pressed', String(state.selected?.key === item.key));

  const thumb = document.createElement('span');
  thumb.className = 'thumb';
  const placeholder = placeholderUrl(item);
  if (placeholder) thumb.style.backgroundImage = `url("${placeholder}")`;
  const img = document.createElement('img');
  const thumbParams: VariantParams = { ...defaultParams(), width: 240, height: 180 };
  img.src = variantUrl(item.key, thumbParams, state.stage);
  img.srcset = `${img.src} 1x, ${variantUrl(item.key, { ...thumbParams, dpr: 2 }, state.stage)} 2x`;
  img.alt = '';
  img.loading = 'lazy';
  img.decoding = 'async';
  img.addEventListener('load', () => img.classList.add('loaded'));
  thumb.append(img);

  const name = document.createElement('span');
  name.className = 'card-name';
  name.textContent = shortName(item);
  button.title = item.key;
  const meta = document.createElement('span');
  meta.className = 'card-meta';
  meta.textContent = `${item.width}×${item.height} · ${formatBytes(item.bytes)}`;

  button.append(thumb, name, meta);
  button.addEventListener('click', () => hooks.select(item));
  li.append(button);
  return li;
}

/** The file name sent at upload, else the key's last segment: short enough for a card. */
export function shortName(item: ImageItem): string {
  const name = displayName(item);
  return name === item.key ? (item.key.split('/').pop() ?? item.key) : name;
}

export function addImage(item: ImageItem, position: 'start' | 'end'): void {
  const existing = el.imageList.querySelector<HTMLElement>(`[data-key="${CSS.escape(item.key)}"]`);
  const card = renderCard(item);
  if (existing?.parentElement) existing.parentElement.replaceWith(card);
  else if (position === 'start') el.imageList.prepend(card);
  else el.imageList.append(card);
  state.images.set(item.key, item);
  el.imageCount.textContent = `(${state.images.size})`;
}

const keyFromHash = () => new URLSearchParams(location.hash.slice(1)).get('image') ?? undefined;

export async function refreshList(): Promise<void> {
  if (!state.token) return;
  state.listAbort?.abort();
  const abort = new AbortController();
  state.listAbort = abort;
  state.images.clear();
  el.imageList.replaceChildren();
  el.imageCount.textContent = '';
  el.imageList.setAttribute('aria-busy', 'true');
  el.listStatus.textContent = 'Loading images…';
  const wanted = keyFromHash();
  try {
    for await (const item of listImages(state.token.token, abort.signal)) {
      addImage(item, 'end');
      if (!state.selected && (wanted === undefined || wanted === item.key)) hooks.select(item, { reveal: true });
    }
    clearError('list');
    clearError('token');
    const first = state.images.values().next().value;
    if (!state.selected && first) hooks.select(first, { reveal: true });
    el.listStatus.textContent = state.images.size ? '' : 'No images yet: upload one.';
  } catch (error) {
    if (abort.signal.aborted) return;
    el.listStatus.textContent = 'The images could not be listed.';
    showError(isAuthError(error) ? 'token' : 'list', 'Could not list images', error);
    if (isAuthError(error)) {
      el.tokenPanel.hidden = false;
    }
  } finally {
    if (state.listAbort === abort) el.imageList.removeAttribute('aria-busy');
  }
}
