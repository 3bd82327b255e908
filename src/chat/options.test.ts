import { describe, expect, it } from 'vitest';
import { backendAttribute, kernelsAttribute, megabytes, numberAttribute, samplingOptions, thinkingAttribute } from './options.ts';

describe('<webmoe-chat> attributes', () => {
  it('sampling attributes become generate options; absent or empty ones keep the defaults', () => {
    const attrs: Record<string, string> = { temperature: '0', 'repeat-penalty': '1', 'max-tokens': '64', 'top-k': '', seed: '7', 'top-p': '0.9', 'min-p': '0.1' };
    expect(samplingOptions((n) => attrs[n] ?? null)).toEqual({ temperature: 0, repeatPenalty: 1, maxTokens: 64, seed: 7, topP: 0.9, minP: 0.1 });
    expect(samplingOptions(() => null)).toEqual({});
  });

  it('a value that is not a number says which attribute and what to give', () => {
    expect(() => numberAttribute('temperature', 'hot')).toThrow('<webmoe-chat temperature="hot">: give a number of 0 or more');
    expect(() => numberAttribute('max-tokens', '1.5')).toThrow(/give a whole number/);
    expect(() => numberAttribute('top-p', '-1')).toThrow(RangeError);
    expect(numberAttribute('seed', ' 12 ')).toBe(12);
  });

  it('budgets are given in MB', () => {
    expect(megabytes('expert-budget', '1.5')).toBe(1_500_000);
    expect(megabytes('ram-budget', null)).toBeUndefined();
  });

  it('enable-thinking: true, false, or absent (the model\'s default); anything else names the attribute', () => {
    expect(thinkingAttribute('true')).toBe(true);
    expect(thinkingAttribute(' false ')).toBe(false);
    expect(thinkingAttribute(null)).toBeUndefined();
    expect(thinkingAttribute('')).toBeUndefined();
    expect(() => thinkingAttribute('no')).toThrow('<webmoe-chat enable-thinking="no">: give true or false');
  });

  it('backend: auto, webgpu, wasm or absent (auto); anything else names the attribute', () => {
    expect(backendAttribute(' wasm ')).toBe('wasm');
    expect(backendAttribute('webgpu')).toBe('webgpu');
    expect(backendAttribute('')).toBeUndefined();
    expect(() => backendAttribute('cpu')).toThrow('<webmoe-chat backend="cpu">: give auto, webgpu, wasm');
  });

  it('kernels: auto, software, hardware or absent (auto); anything else names the attribute', () => {
    expect(kernelsAttribute(' hardware ')).toBe('hardware');
    expect(kernelsAttribute('software')).toBe('software');
    expect(kernelsAttribute(null)).toBeUndefined();
    expect(() => kernelsAttribute('gpu')).toThrow('<webmoe-chat kernels="gpu">: give auto, software, hardware');
  });
});
