// The engine worker: owns fetch, IndexedDB, the WebAssembly tokenizer and sampler, and WebGPU.
// The page reaches it through comlink (src/client/webmoe.ts); everything it does is in
// engine-host.ts, which the Node tests run without a worker.
import { expose } from 'comlink';
import type { EngineWorkerApi } from '../src/client/protocol.ts';
import { idbStore } from '../src/storage/idb.ts';
import { EngineHost } from './engine-host.ts';

const host = new EngineHost({ store: idbStore() });
const api: EngineWorkerApi = { call: (request, onEvent) => host.call(request, onEvent) };
expose(api);
