// Request decoding with Go's exact error texts.
//
// Why this module exists: Ollama decodes every request body with gin's ShouldBindJSON, that is Go's
// encoding/json into the structs of api/types.go and openai/openai.go, and answers a malformed body
// with 400 and the decoder's own text (`invalid character 'x' looking for beginning of value`,
// `json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool`,
// `illegal base64 data at input byte 4`...). A client's error handling is only tested honestly if
// the simulator answers those bodies with the same texts, so this module reproduces Go's scanner,
// its type errors (first one wins, except inside a custom UnmarshalJSON), base64 for `[]byte`
// fields, and the struct shapes those errors depend on. It is internal: the package index does not
// export it.
export {
  base64Error,
  decodeInto,
  type GoDecodeResult,
  type GoType,
  parseGoJson,
  quoteChar,
} from './go-decode.js';
export {
  chatRequest,
  checkModelOptions,
  copyRequest,
  createRequest,
  deleteRequest,
  embeddingRequest,
  embedRequest,
  generateRequest,
  openaiChatRequest,
  openaiCompletionRequest,
  openaiEmbedRequest,
  pullRequest,
  pushRequest,
  showRequest,
} from './request-schemas.js';
