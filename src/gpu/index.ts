export { Gpu, adapterName, isCpuAdapter, refBuffer, refOffset, isWholeBuffer, type AdapterSummary, type BindingKind, type BufferRef, type GpuCounters, type GpuOptions } from './gpu';
export { GpuLimitError, GpuLostError, GpuUnavailableError, ShaderCompileError } from './errors';
export { packUniforms, uniformByteSize, type UniformSpec, type UniformValues, type UniformType } from './uniforms';
