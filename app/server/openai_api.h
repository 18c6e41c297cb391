// The OpenAI HTTP API as JSON: requests for /v1/completions and /v1/chat/completions parsed and checked
// into EngineRequests, and the response bodies, stream chunks and error objects built the way the
// OpenAI SDKs read them. No sockets here, so every rule can be tested on strings.
//
// Sampling follows the OpenAI semantics: temperature (default 1, 0 = greedy), top_p (default 1),
// presence/frequency penalties, seed; no top-k or min-p cut unless the llama.cpp-style extensions
// top_k, min_p or repeat_penalty are given.
//
// Structured output: response_format {"type": "json_object"} constrains the answer to a JSON object and
// {"type": "json_schema", "json_schema": {"name", "schema", "strict"}} to the schema (compiled to a
// grammar, see peregrine/grammar.h: the output always validates, keys in declaration order, compact).
// A schema the compiler cannot take is a 400 naming the offending node's JSON pointer.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "peregrine/engine.h"
#include "peregrine/loaded_model.h"

namespace peregrine::server {

// A request the API refuses, with the HTTP status and the fields of OpenAI's error object.
class ApiError : public std::runtime_error {
public:
    ApiError(int status, std::string message, std::string type = "invalid_request_error", std::string param = {},
             std::string code = {});
    int status() const { return status_; }
    nlohmann::json body() const;  // {"error": {"message", "type", "param", "code"}}

private:
    int status_;
    std::string type_, param_, code_;
};

struct ApiLimits {
    size_t max_body_bytes = 1 << 20;  // larger request bodies get 413
    int max_tokens = 4096;            // largest max_tokens a request may ask for
    int max_n = 8;                    // largest n
    size_t max_stop = 4;              // stop strings per request (OpenAI's limit)
    size_t max_stop_bytes = 256;      // length of one stop string
};

enum class Endpoint { Completions, ChatCompletions };

struct ApiRequest {
    Endpoint endpoint = Endpoint::ChatCompletions;
    EngineRequest engine;
    bool stream = false;
    bool include_usage = false;       // stream_options.include_usage
};

// What the server knows when it checks a request.
struct ApiContext {
    const LoadedModel* model = nullptr;
    std::string model_id;   // the name /v1/models lists
    int n_ctx = 0;
    ApiLimits limits;
};

// Parses and checks a request body. Throws ApiError: 400 for malformed JSON, wrong types and values
// out of range (param names the field), 404 for a model other than the loaded one.
ApiRequest parse_request(Endpoint endpoint, const std::string& body, const ApiContext& context);

// "stop" for an end-of-generation token or a stop string, "length" for max_tokens or the context end.
std::string finish_reason(StopReason reason);

struct ChoiceResult {
    std::string text;
    std::string finish_reason = "stop";
};

struct Usage {
    int prompt_tokens = 0;
    int completion_tokens = 0;
    int cached_tokens = 0;  // prompt tokens the prefix cache served
};

struct ResponseHeader {
    std::string id;        // "chatcmpl-..." or "cmpl-..."
    int64_t created = 0;   // unix seconds
    std::string model;
};

nlohmann::json usage_json(const Usage& usage);
// The whole non-streamed response.
nlohmann::json response_json(Endpoint endpoint, const ResponseHeader& header, const std::vector<ChoiceResult>& choices,
                             const Usage& usage);
// One streamed chunk for choice `index`: chat sends the role with its first chunk; finish_reason null
// until the choice's last chunk.
nlohmann::json chunk_json(Endpoint endpoint, const ResponseHeader& header, int index, bool with_role,
                          const std::string& text, const std::optional<std::string>& finish);
// The last chunk when stream_options.include_usage is set: no choices, the usage.
nlohmann::json usage_chunk_json(Endpoint endpoint, const ResponseHeader& header, const Usage& usage);

// JSON text for the wire; invalid UTF-8 (a model can emit a lone byte) is replaced, never thrown on.
std::string dump(const nlohmann::json& j);

}  // namespace peregrine::server
