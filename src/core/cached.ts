/**
 * A value loaded once and shared by every caller (the master key, the API
 * token, the metadata table's creation): the first call starts the load, later
 * calls get the same promise. A load that fails is forgotten, so the next call
 * tries again instead of failing for the life of the container.
 */
export interface Cached<T> {
  (): Promise<T>;
  /** Forgets the value (or the load in flight); the next call loads again. */
  reset(): void;
}

export function cached<T>(load: () => Promise<T>): Cached<T> {
  let pending: Promise<T> | undefined;
  const get = () => {
    if (!pending) {
      const attempt = load();
      pending = attempt;
      attempt.catch(() => {
        if (pending === attempt) pending = undefined;
      });
    }
    return pending;
  };
  return Object.assign(get, {
    reset() {
      pending = undefined;
    },
  });
}
