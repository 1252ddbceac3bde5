/**
 * The local CDN's last line: an error that escapes every handler (a stream of
 * an embedded server nobody listens to, a rejected promise nobody awaits) is
 * logged as one JSON line and the server keeps serving, rather than one
 * request taking the whole process down. Each cause found is still fixed
 * where it arises; this only keeps what slips through from being fatal.
 */
import { describeError, type Logger } from '../core/log.js';

/** Installs the guard; the returned function removes it (the server's `close`). */
export function guardProcess(logger: Logger): () => void {
  const onException = (error: unknown) => {
    logger.error('uncaught exception; still serving', describeError(error));
  };
  const onRejection = (reason: unknown) => {
    logger.error('unhandled rejection; still serving', describeError(reason));
  };
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
