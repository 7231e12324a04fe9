// Bootstrap of a certificate-issuing worker thread (services/ca-workers.ts). Plain JavaScript because a worker
// does not inherit tsx's in-process loader registration; it registers tsx with the project's tsconfig, then
// loads the TypeScript worker body (as log/kinds/canonicalize-worker.mjs).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('./ca-worker-body.ts');
