// Errors with messages a user can act on.

export class GpuUnavailableError extends Error {
  override name = 'GpuUnavailableError';
}

export class GpuLimitError extends Error {
  override name = 'GpuLimitError';
}

export class GpuLostError extends Error {
  override name = 'GpuLostError';
}

export class ShaderCompileError extends Error {
  override name = 'ShaderCompileError';
}
