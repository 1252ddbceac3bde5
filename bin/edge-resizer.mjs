#!/usr/bin/env -S node --openssl-legacy-provider
// The `edge-resizer` command. The source is TypeScript, run through tsx, so
// there is no build step between a clone and a working CLI. The embedded S3
// server pages listings with DES, which OpenSSL 3 keeps in its legacy
// provider: hence the flag above.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
