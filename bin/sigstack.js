#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npm link` / `npx sigstack` work from a clone with no build step.
import { register } from 'tsx/esm/api';
register();
await import('../client/cli.ts');
