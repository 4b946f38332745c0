// slimllm's public API.
export { prune, evaluatePerplexity, tokenizerFor, type ModelInput, type EvaluateOptions, type PruneCallOptions } from './api.js';
export { openModel as loadModel, loadModelWeights } from './model/load.js';
export { saveModel, type SaveModelOptions } from './model/writer.js';
export { loadTokenizer, type Tokenizer } from './model/tokenizer.js';
export { convertLlama2cToHf, convertModel, type SourceFormat, type TargetFormat } from './model/convert.js';
export type { GgufDtype } from './model/gguf-model.js';
export { greedyContinuation, nextTokenProbabilities } from './model/generate.js';
export { ModelConfigSchema, decoderLinearParams, type ModelConfig, type LayerShape } from './model/config.js';
export type { ModelSource, ModelWeights, LayerWeights } from './model/weights.js';
export { sequenceLogits } from './model/runner.js';
export { PruneOptionsSchema, type PruneOptionsInput } from './prune/options.js';
export type { PruneReport, LayerReport, PruneProgress } from './prune/orchestrator.js';
export type { PerplexityResult } from './eval/perplexity.js';
export { createBackend, CpuBackend, GpuBackend, type Backend, type DeviceKind } from './kernels/index.js';
export { NoGpuAdapterError } from './gpu/device.js';
export { runCompare, compareMarkdown, compareSvg, type CompareOptions, type CompareResult } from './prune/compare.js';
export { METHOD_NAMES, type MethodName } from './prune/methods.js';
export type { PruningMethod, Recovery, ModuleContext } from './prune/module.js';
