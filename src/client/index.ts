// WebMoE's public API for pages: `import { WebMoE } from 'webmoe'` (this file).
export { WebMoE, engineWorker, type ChatOptions, type GenerateOptions, type LoadProgress, type WebMoELoadOptions, type WorkerConnection } from './webmoe.ts';
export { Generation, type TokenChunk } from './generation.ts';
export { Conversation, type ConversationOptions } from './conversation.ts';
export { WebMoEError } from './errors.ts';
export type {
  ChatHistory, ChatMessage, GenerateParams, GenerationResult, LoadOptions, LoadStepEvent, ModelInfo, SamplingParams, SerializedError,
  StopReason, StoredModel, WorkerEvent, WorkerStats,
} from './protocol.ts';
