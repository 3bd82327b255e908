// Device failures become named errors: an uncaptured validation error, and the loss of the
// device (here destroyed behind the engine's back), after which recreate() starts over.
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { WebGPUEngine } from '../engine/engine.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { USAGE } from './buffers.ts';
import { GPUEngineError, GPUSession } from './session.ts';

describe('GPUSession failures', () => {
  it('turns an uncaptured validation error into a GPUEngineError', async () => {
    const session = await GPUSession.create();
    try {
      const b = session.buffers.create(16, USAGE.STORAGE | USAGE.COPY_DST, 'small', 'io');
      session.device.queue.writeBuffer(b, 0, new Float32Array(64)); // past the end
      await session.device.queue.onSubmittedWorkDone();
      await new Promise((r) => setTimeout(r, 50));
      expect(() => session.check()).toThrow(GPUEngineError);
      expect(session.failure).toMatchObject({ name: 'GPUEngineError', code: 'validation' });
    } finally {
      session.destroy();
    }
  });

  it('reports a lost device by name, and recreate() gives a working engine', async () => {
    const bytes = makeModel({ arch: 'qwen3', type: GGMLType.Q8_0, seed: 4 });
    const engine = await WebGPUEngine.load(bytesSource(bytes), { nCtx: 16, maxBatch: 4 });
    const before = (await engine.forward([5, 6, 7])).next;
    engine.session.device.destroy(); // not through the engine
    await new Promise((r) => setTimeout(r, 50));
    await expect(engine.forward([8])).rejects.toMatchObject({ name: 'GPUEngineError', code: 'device-lost' });
    const again = await engine.recreate();
    try {
      expect((await again.forward([5, 6, 7])).next).toBe(before);
    } finally {
      again.destroy();
    }
  });
});
