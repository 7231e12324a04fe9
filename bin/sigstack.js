#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx sigstack` works from a clone with no build step, from any folder.
// The project's tsconfig is named explicitly: tsx would otherwise look in the caller's folder and miss the
// legacy-decorator setting that @peculiar/asn1-schema's schemas need.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../client/cli.ts');
