// Bootstrap of a canonicalization worker thread (log/kinds/canonicalize-pool.ts). Plain JavaScript because a
// worker does not inherit tsx's in-process loader registration (bin/sigstack.js registers it through the
// API, not --import); it registers tsx with the project's tsconfig, then loads the TypeScript worker body.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../tsconfig.json', import.meta.url)) });
await import('./canonicalize-worker-body.ts');
