/**
 * The snippets panel: the URL, an `<img>` tag and a responsive srcset for the
 * current variant, each with a copy button.
 */
import { $, el, showError, state } from '../page.js';
import { expectedSize, imgTag, parseWidthList, srcsetSnippet } from '../variant.js';
import type { CurrentVariant } from './formats.js';

let lastOutput: { width: number; height: number; dpr: number } | undefined;

export function renderSnippets(variant: CurrentVariant, output?: { width: number; height: number; dpr: number }): void {
  const item = state.selected;
  const current = variant();
  if (!item || !current) return;
  if (output) lastOutput = output;
  const { params, urlOf: imageUrl } = current;
  const origin = location.origin;
  const url = origin + imageUrl(item.key, params);
  const measured = lastOutput && lastOutput.dpr === params.dpr ? lastOutput : undefined;
  const size = measured ?? expectedSize(item, params);
  const css = { width: Math.round(size.width / params.dpr), height: Math.round(size.height / params.dpr) };
  el.snippetUrl.textContent = url;
  el.snippetImg.textContent = imgTag(url, css);
  const snippet = srcsetSnippet(origin, item, params, {
    widths: parseWidthList(el.srcsetWidths.value),
    sizes: el.srcsetSizes.value,
    stage: state.stage,
  });
  el.snippetSrcset.textContent = snippet.html;
  el.snippetSrcset.dataset.widths = snippet.widths.join(',');
}

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // No clipboard permission (an http:// origin that is not localhost, say): the old way.
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'visually-hidden';
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('the browser refused to copy; select the text and copy it by hand');
}

/** Wires the copy buttons. */
export function initSnippetsPanel(): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-copy]')) {
    button.addEventListener('click', async () => {
      const source = $(button.dataset.copy as string);
      try {
        await copyText(source.textContent ?? '');
        el.copyStatus.textContent = `Copied: ${button.textContent?.replace(/^Copy /, '')}`;
        button.classList.add('copied');
        setTimeout(() => button.classList.remove('copied'), 1500);
      } catch (error) {
        showError('copy', 'Could not copy', error);
      }
    });
  }
}
