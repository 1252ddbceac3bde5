/**
 * What every panel of the playground shares: the page's elements (index.html,
 * and the step controls drawn from the parameter registry), the page state,
 * and the alert region.
 */
import { ApiError, type ImageItem, type TokenSource } from './api.js';
import { drawStepControls } from './controls.js';
import { DEFAULT_STAGE, type StageSettings } from './variant.js';

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

// Drawn first, so the lookups below find them like the fields written in index.html.
export const stepControls = drawStepControls($('effects-grid'));

export const el = {
  alert: $('alert'),
  tokenState: $('token-state'),
  changeToken: $<HTMLButtonElement>('change-token'),
  tokenPanel: $('token-panel'),
  tokenForm: $<HTMLFormElement>('token-form'),
  tokenInput: $<HTMLInputElement>('token-input'),
  tokenForget: $<HTMLButtonElement>('token-forget'),
  tokenCancel: $<HTMLButtonElement>('token-cancel'),
  dropzone: $('dropzone'),
  chooseFiles: $<HTMLButtonElement>('choose-files'),
  fileInput: $<HTMLInputElement>('file-input'),
  uploads: $<HTMLUListElement>('uploads'),
  listStatus: $('list-status'),
  imageList: $<HTMLUListElement>('image-list'),
  imageCount: $('image-count'),
  editorTitle: $('editor-title'),
  originalInfo: $('original-info'),
  editorBody: $('editor-body'),
  controls: $<HTMLFormElement>('controls'),
  widthRange: $<HTMLInputElement>('width-range'),
  widthNumber: $<HTMLInputElement>('width-number'),
  heightRange: $<HTMLInputElement>('height-range'),
  heightNumber: $<HTMLInputElement>('height-number'),
  fit: $<HTMLSelectElement>('fit'),
  dpr: $<HTMLSelectElement>('dpr'),
  resetSize: $<HTMLButtonElement>('reset-size'),
  format: $<HTMLSelectElement>('format'),
  quality: $<HTMLInputElement>('quality'),
  qualityValue: $<HTMLOutputElement>('quality-value'),
  compare: $<HTMLInputElement>('compare'),
  formatB: $<HTMLSelectElement>('format-b'),
  qualityB: $<HTMLInputElement>('quality-b'),
  qualityBValue: $<HTMLOutputElement>('quality-b-value'),
  compareSummary: $('compare-summary'),
  snippetUrl: $('snippet-url'),
  snippetImg: $('snippet-img'),
  snippetSrcset: $('snippet-srcset'),
  srcsetWidths: $<HTMLInputElement>('srcset-widths'),
  srcsetSizes: $<HTMLInputElement>('srcset-sizes'),
  copyStatus: $('copy-status'),
  preset: $<HTMLSelectElement>('preset'),
  presetExpansion: $('preset-expansion'),
  gravity: $<HTMLSelectElement>('gravity'),
  fx: $<HTMLInputElement>('fx'),
  fy: $<HTMLInputElement>('fy'),
  rect: $<HTMLInputElement>('rect'),
  originalStage: $('original-stage'),
  originalImg: $<HTMLImageElement>('original-img'),
  focalMarker: $('focal-marker'),
  rectBox: $('rect-box'),
  clearFocal: $<HTMLButtonElement>('clear-focal'),
  clearRect: $<HTMLButtonElement>('clear-rect'),
  focalStatus: $('focal-status'),
  formats: $('formats'),
  compareFormats: $<HTMLButtonElement>('compare-formats'),
  formatsTable: $<HTMLTableElement>('formats-table'),
  formatsStatus: $('formats-status'),
};

export const state: {
  token?: { token: string; source: TokenSource };
  images: Map<string, ImageItem>;
  selected?: ImageItem;
  listAbort?: AbortController;
  previewAbort?: AbortController;
  previewTimer?: ReturnType<typeof setTimeout>;
  stage: StageSettings;
  formatsAbort?: AbortController;
} = { images: new Map(), stage: DEFAULT_STAGE };

let alertSource: string | undefined;

/** Shows an error in the alert region; `source` lets a later success clear only its own error. */
export function showError(source: string, context: string, error: unknown): void {
  const text = error instanceof ApiError ? error.readable : error instanceof Error ? error.message : String(error);
  alertSource = source;
  el.alert.replaceChildren();
  const message = document.createElement('p');
  message.textContent = `${context}: ${text}`;
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.className = 'button secondary small';
  dismiss.textContent = 'Dismiss';
  dismiss.addEventListener('click', () => clearError());
  el.alert.append(message, dismiss);
}

export function clearError(source?: string): void {
  if (source !== undefined && source !== alertSource) return;
  alertSource = undefined;
  el.alert.replaceChildren();
}

export const isAuthError = (error: unknown) =>
  error instanceof ApiError && (error.status === 401 || error.status === 403);
