// Make this Node process able to import the project's TypeScript sources directly:
// tsx compiles .ts on the fly (Node 20 cannot run it), raw-loader.mjs serves `?raw` imports.
import { register as registerHooks } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
// Hooks run last-registered-first, so `?raw` is answered before tsx sees the specifier.
registerHooks('./raw-loader.mjs', import.meta.url);
