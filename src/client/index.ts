// WebMoE's public API for pages: `import { WebMoE } from 'webmoe'` (this file).
export { WebMoE, engineWorker, type ChatOptions, type GenerateOptions, type LoadProgress, type WebMoELoadOptions, type WorkerConnection } from './webmoe.ts';
export { Generation, type TokenChunk } from './generation.ts';
export { Conversation, type ConversationOptions } from './conversation.ts';
export { WebMoEError } from './errors.ts';
export { ModelDownloadingError } from '../fetch/share.ts';
export {
  ChatCompletionStream, InvalidRequestError, type ChatCompletion, type ChatCompletionChunk, type ChatCompletionContentPartText,
  type ChatCompletionCreateParams, type ChatCompletionCreateParamsNonStreaming, type ChatCompletionCreateParamsStreaming,
  type ChatCompletionMessageParam, type ChatCompletions, type ChatMethod, type CompletionUsage, type FinishReason, type RequestOptions,
} from './openai.ts';
export type {
  BackendChoice, BackendKind, ChatHistory, ChatMessage, GenerateParams, GenerationResult, LoadOptions, LoadStepEvent, ModelInfo, SamplingParams, SerializedError,
  StopReason, StoredModel, WorkerEvent, WorkerStats,
} from './protocol.ts';
