'use strict';
/**
 * Lifecycle rules of the derivatives bucket, for serverless.yml's
 * `${file(./scripts/sls-derivatives-lifecycle.cjs)}`.
 *
 * Derivatives expire `custom.stages.<stage>.derivativeExpirationDays` after
 * they were made, but the playground's assets under `_playground/` must not:
 * S3 lifecycle filters have no "not", so there is one prefix rule per first
 * character an image key can have (`A-Z a-z 0-9 . _ -`, and
 * keys starting with `_` are reserved). S3 allows 1,000 rules; this makes 64.
 */

const FIRST_CHARS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ', ...'abcdefghijklmnopqrstuvwxyz', ...'0123456789', '.', '-'];

/** S3 rule ids allow letters, digits and punctuation, but `.`/`-` read badly alone. */
function ruleId(char) {
  if (char === '.') return 'expire-derivatives-dot';
  if (char === '-') return 'expire-derivatives-dash';
  return `expire-derivatives-${/[A-Z]/.test(char) ? `upper-${char}` : char}`;
}

/** @param {number} days */
function derivativeLifecycleRules(days) {
  if (!Number.isInteger(days) || days < 1) {
    throw new Error(`Expected integer >= 1 for derivativeExpirationDays but received '${days}'`);
  }
  return [
    ...FIRST_CHARS.map((char) => ({
      Id: ruleId(char),
      Status: 'Enabled',
      Prefix: char,
      ExpirationInDays: days,
    })),
    {
      Id: 'abort-incomplete-uploads',
      Status: 'Enabled',
      Prefix: '',
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    },
  ];
}

module.exports = async ({ resolveVariable }) =>
  derivativeLifecycleRules(await resolveVariable('self:custom.stage.derivativeExpirationDays'));
module.exports.derivativeLifecycleRules = derivativeLifecycleRules;
module.exports.FIRST_CHARS = FIRST_CHARS;
