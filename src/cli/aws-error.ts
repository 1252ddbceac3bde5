/** An AWS SDK error as one line for stderr: its name (the service's error code) and message, no stack. */
export function describeAwsError(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return `${e.name ?? 'Error'}: ${e.message ?? String(error)}`;
}
