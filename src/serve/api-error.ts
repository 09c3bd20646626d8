// An error the server answers with, in OpenAI's shape: HTTP status plus
// `{ error: { message, type, param, code } }`. Handlers throw it; the server writes it.

/** The error `type` OpenAI uses for a status; every other status is an invalid_request_error. */
const TYPES: Record<number, string> = {
  500: 'server_error',
  503: 'server_error',
};

export interface ApiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly param: string | null = null, readonly code: string | null = null) {
    super(message);
  }

  get type(): string {
    return TYPES[this.status] ?? 'invalid_request_error';
  }

  body(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}
