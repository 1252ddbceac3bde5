/**
 * The upload panel: a file picker and the whole page as a drop target; each
 * file uploads with its own progress bar, over the staged multipart path when
 * it is larger than a single API request takes.
 */

import { STAGED_UPLOAD_THRESHOLD_BYTES } from '../../../src/client-api/api-client.js';
import { formatBytes } from '../../../src/core/format-bytes.js';
import { ApiError, type ImageItem, uploadImage, uploadStaged } from '../api.js';
import { clearError, el, isAuthError, showError, state } from '../page.js';

export interface UploadHooks {
  /** No token yet: open the token panel. */
  askForToken(): void;
  /** A file landed: list and select it. */
  uploaded(item: ImageItem): void;
}

async function uploadFiles(files: readonly File[], hooks: UploadHooks): Promise<void> {
  if (!files.length) return;
  if (!state.token) {
    showError('token', 'Cannot upload', new Error('enter the API token first'));
    hooks.askForToken();
    return;
  }
  for (const file of files) {
    const li = document.createElement('li');
    li.className = 'upload';
    const name = document.createElement('span');
    name.className = 'upload-name';
    name.textContent = file.name;
    const progress = document.createElement('progress');
    progress.max = 1;
    progress.value = 0;
    progress.setAttribute('aria-label', `Uploading ${file.name}`);
    const status = document.createElement('span');
    status.className = 'upload-status';
    status.textContent = formatBytes(file.size);
    li.append(name, progress, status);
    el.uploads.append(li);
    try {
      const upload = file.size > STAGED_UPLOAD_THRESHOLD_BYTES ? uploadStaged : uploadImage;
      li.dataset.path = file.size > STAGED_UPLOAD_THRESHOLD_BYTES ? 'staged' : 'single';
      const result = await upload(file, state.token.token, (fraction) => {
        progress.value = fraction;
        status.textContent = `${Math.round(fraction * 100)}%`;
      });
      status.textContent = 'Uploaded';
      li.classList.add('done');
      setTimeout(() => li.remove(), 4000);
      const item: ImageItem = { ...result, meta: result.meta ?? { filename: encodeURIComponent(file.name) } };
      hooks.uploaded(item);
      clearError('upload');
    } catch (error) {
      li.classList.add('failed');
      status.textContent = error instanceof ApiError ? error.code : 'failed';
      showError(isAuthError(error) ? 'token' : 'upload', `Could not upload ${file.name}`, error);
      setTimeout(() => li.remove(), 8000);
    }
  }
}

/** Wires the picker and the page-wide drop target. */
export function initUploadPanel(hooks: UploadHooks): void {
  el.chooseFiles.addEventListener('click', () => el.fileInput.click());
  el.fileInput.addEventListener('change', () => {
    const files = [...(el.fileInput.files ?? [])];
    el.fileInput.value = '';
    void uploadFiles(files, hooks);
  });

  // Anything dropped on the page goes to the dropzone, never navigates away.
  let dragDepth = 0;
  window.addEventListener('dragenter', (event) => {
    if (!event.dataTransfer?.types.includes('Files')) return;
    dragDepth += 1;
    el.dropzone.classList.add('dragging');
  });
  window.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) el.dropzone.classList.remove('dragging');
  });
  window.addEventListener('dragover', (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
  });
  window.addEventListener('drop', (event) => {
    event.preventDefault();
    dragDepth = 0;
    el.dropzone.classList.remove('dragging');
    const files = [...(event.dataTransfer?.files ?? [])].filter((f) => f.type.startsWith('image/') || f.type === '');
    void uploadFiles(files, hooks);
  });
}
