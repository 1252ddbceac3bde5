/**
 * What is baked into the viewer-request CloudFront Function for a stage: the
 * parameter rules' slice of the config, AVIF negotiation and the signing secret.
 * CloudFront Functions have no environment, so this is all they know.
 */
import type { EdgeResizerConfig } from '../../core/config.js';
import type { RuleConfig } from '../../core/param-rules.js';
import { ruleConfig } from '../../core/params.js';

export interface ViewerConfig extends RuleConfig {
  /** `format=auto` negotiates AVIF (`Accept: image/avif`). */
  autoAvif: boolean;
  /** HMAC secret of signed URLs (the key `default`); null: signing off. */
  signingSecret: string | null;
  /**
   * Signing keys by `kid` from the CloudFront KeyValueStore associated with the
   * function (locally `signing-keys.json`); the key `default` falls back to
   * `signingSecret`. Off: only `signingSecret`, and a `kid` other than `default` is refused.
   */
  keyValueStore: boolean;
}

export function viewerConfig(
  config: EdgeResizerConfig,
  signingSecret: string | null | undefined = config.signing.secret,
  keyValueStore = false,
): ViewerConfig {
  return {
    ...ruleConfig(config),
    autoAvif: config.autoAvif,
    signingSecret: signingSecret ? signingSecret : null,
    keyValueStore,
  };
}
