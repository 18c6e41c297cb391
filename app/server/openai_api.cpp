#include "server/openai_api.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "peregrine/error.h"
#include "peregrine/grammar.h"
#include "peregrine/vocab.h"

namespace peregrine::server {
namespace {

using nlohmann::json;

ApiError bad(const std::string& param, const std::string& message, std::string code = {}) {
    return ApiError(400, message, "invalid_request_error", param, std::move(code));
}

// A field that is absent or null counts as not given.
const json* field(const json& body, const char* name) {
    const auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

double number(const json& body, const char* name, double fallback, double lo, double hi) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_number()) throw bad(name, fmt::format("'{}' must be a number", name));
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi) {
        throw bad(name, fmt::format("'{}' is {}; it must be between {} and {}", name, x, lo, hi));
    }
    return x;
}

int64_t integer(const json& body, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_number_integer()) throw bad(name, fmt::format("'{}' must be an integer", name));
    const int64_t x = v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                          ? INT64_MAX
                          : v->get<int64_t>();
    if (x < lo || x > hi) throw bad(name, fmt::format("'{}' is {}; it must be between {} and {}", name, x, lo, hi));
    return x;
}

bool boolean(const json& body, const char* name, bool fallback) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_boolean()) throw bad(name, fmt::format("'{}' must be true or false", name));
    return v->get<bool>();
}

void check_model(const json& body, const ApiContext& ctx) {
    const json* v = field(body, "model");
    if (!v) return;  // local servers serve their one model to clients that do not name it
    if (!v->is_string()) throw bad("model", "'model' must be a string");
    const std::string name = v->get<std::string>();
    if (name != ctx.model_id && name != ctx.model_id + ".gguf") {
        throw ApiError(404, fmt::format("The model '{}' does not exist; this server serves '{}'", name, ctx.model_id),
                       "invalid_request_error", "model", "model_not_found");
    }
}

std::vector<std::string> stop_strings(const json& body, const ApiLimits& limits) {
    const json* v = field(body, "stop");
    std::vector<std::string> out;
    if (!v) return out;
    std::vector<json> items;
    if (v->is_string()) {
        items.push_back(*v);
    } else if (v->is_array()) {
        items.assign(v->begin(), v->end());
    } else {
        throw bad("stop", "'stop' must be a string or an array of strings");
    }
    if (items.size() > limits.max_stop) {
        throw bad("stop", fmt::format("'stop' has {} strings; at most {} are allowed", items.size(), limits.max_stop));
    }
    for (const json& s : items) {
        if (!s.is_string()) throw bad("stop", "'stop' must be a string or an array of strings");
        std::string text = s.get<std::string>();
        if (text.size() > limits.max_stop_bytes) {
            throw bad("stop", fmt::format("a stop string is {} bytes; at most {} are allowed", text.size(),
                                          limits.max_stop_bytes));
        }
        if (!text.empty()) out.push_back(std::move(text));
    }
    return out;
}

std::string message_content(const json& message, size_t i) {
    const json* content = field(message, "content");
    if (!content) return {};  // an assistant turn that only called tools
    if (content->is_string()) return content->get<std::string>();
    if (!content->is_array()) throw bad(fmt::format("messages[{}].content", i), "content must be a string or an array of parts");
    std::string text;
    for (const json& part : *content) {
        const json* type = part.is_object() ? field(part, "type") : nullptr;
        if (!type || *type != "text" || !field(part, "text") || !part["text"].is_string()) {
            throw bad(fmt::format("messages[{}].content", i), "only text content parts ({\"type\": \"text\", ...}) are supported");
        }
        text += part["text"].get<std::string>();
    }
    return text;
}

std::vector<int32_t> chat_prompt(const json& body, const ApiContext& ctx) {
    const json* messages = field(body, "messages");
    if (!messages) throw bad("messages", "'messages' is required");
    if (!messages->is_array() || messages->empty()) throw bad("messages", "'messages' must be a non-empty array");
    std::vector<ChatMessage> conversation;
    for (size_t i = 0; i < messages->size(); ++i) {
        const json& m = (*messages)[i];
        if (!m.is_object() || !field(m, "role") || !m["role"].is_string()) {
            throw bad(fmt::format("messages[{}]", i), "every message needs a string 'role'");
        }
        std::string role = m["role"].get<std::string>();
        if (role == "developer") role = "system";  // OpenAI's newer name for the system role
        if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
            throw bad(fmt::format("messages[{}].role", i), fmt::format("unknown role '{}'", role));
        }
        conversation.push_back({role, message_content(m, i)});
    }
    try {
        return ctx.model->tokenize_chat(conversation, /*add_generation_prompt=*/true);
    } catch (const InvalidRequestError& e) {
        throw bad("messages", e.what());
    }
}

std::vector<int32_t> completion_prompt(const json& body, const ApiContext& ctx) {
    const json* prompt = field(body, "prompt");
    if (!prompt) throw bad("prompt", "'prompt' is required");
    if (prompt->is_string()) return ctx.model->tokenize_prompt(prompt->get<std::string>());
    if (!prompt->is_array() || prompt->empty()) throw bad("prompt", "'prompt' must be a string, or an array of token ids");
    if ((*prompt)[0].is_string()) {
        if (prompt->size() != 1) throw bad("prompt", "one prompt per request: send an array of strings as separate requests");
        return ctx.model->tokenize_prompt((*prompt)[0].get<std::string>());
    }
    std::vector<int32_t> ids;
    const int32_t n_vocab = ctx.model->vocab->n_tokens();
    for (const json& t : *prompt) {
        if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= n_vocab) {
            throw bad("prompt", fmt::format("token ids must be integers in [0, {})", n_vocab));
        }
        ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
    return ids;
}

void refuse_unsupported(const json& body) {
    if (boolean(body, "logprobs", false)) throw bad("logprobs", "logprobs are not supported");
    if (boolean(body, "echo", false)) throw bad("echo", "echo is not supported");
    const json* tools = field(body, "tools");
    if (tools && !(tools->is_array() && tools->empty())) throw bad("tools", "tools are not supported");
}

// Any JSON object (OpenAI's JSON mode): the schema compiler's generic, compact object rule. Compiled once.
std::shared_ptr<const Grammar> any_json_object() {
    static const std::shared_ptr<const Grammar> grammar = Grammar::from_json_schema(R"({"type": "object"})");
    return grammar;
}

// response_format: {"type": "text"} (the default), {"type": "json_object"}, or {"type": "json_schema",
// "json_schema": {"name": ..., "schema": {...}, "strict": ...}}. Returns the grammar (null for text).
// A schema the compiler refuses is a 400 whose message names the JSON pointer of the offending node.
std::shared_ptr<const Grammar> response_grammar(const json& body) {
    const json* rf = field(body, "response_format");
    if (!rf) return nullptr;
    if (!rf->is_object() || !field(*rf, "type") || !(*rf)["type"].is_string()) {
        throw bad("response_format", "'response_format' must be an object with a string 'type'");
    }
    const std::string type = (*rf)["type"].get<std::string>();
    if (type == "text") return nullptr;
    if (type == "json_object") return any_json_object();
    if (type != "json_schema") {
        throw bad("response_format.type", fmt::format("response_format type '{}' is not one of 'text', 'json_object', "
                                                      "'json_schema'", type));
    }
    const json* spec = field(*rf, "json_schema");
    if (!spec || !spec->is_object()) {
        throw bad("response_format.json_schema", "response_format 'json_schema' needs a 'json_schema' object with a "
                                                 "'schema'");
    }
    if (const json* name = field(*spec, "name"); name && !name->is_string()) {
        throw bad("response_format.json_schema.name", "'json_schema.name' must be a string");
    }
    if (const json* strict = field(*spec, "strict"); strict && !strict->is_boolean()) {
        throw bad("response_format.json_schema.strict", "'json_schema.strict' must be true or false");
    }
    const json* schema = field(*spec, "schema");
    if (!schema || !(schema->is_object() || schema->is_boolean())) {
        throw bad("response_format.json_schema.schema", "'json_schema.schema' must be a JSON schema object");
    }
    try {
        return Grammar::from_json_schema(schema->dump());
    } catch (const GrammarError& e) {
        // "json schema /properties/age/type: ..." names the node by its JSON pointer.
        const std::string name = field(*spec, "name") ? (*spec)["name"].get<std::string>() : std::string("(unnamed)");
        throw bad("response_format.json_schema.schema",
                  fmt::format("Invalid schema for response_format '{}': {}", name, e.what()), "invalid_json_schema");
    }
}

}  // namespace

ApiError::ApiError(int status, std::string message, std::string type, std::string param, std::string code)
    : std::runtime_error(std::move(message)),
      status_(status),
      type_(std::move(type)),
      param_(std::move(param)),
      code_(std::move(code)) {}

json ApiError::body() const {
    return {{"error",
             {{"message", what()},
              {"type", type_},
              {"param", param_.empty() ? json(nullptr) : json(param_)},
              {"code", code_.empty() ? json(nullptr) : json(code_)}}}};
}

ApiRequest parse_request(Endpoint endpoint, const std::string& body_text, const ApiContext& ctx) {
    const json body = json::parse(body_text, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
        throw bad({}, "We could not parse the JSON body of your request. Send valid JSON with Content-Type "
                      "application/json.");
    }
    if (!body.is_object()) throw bad({}, "the request body must be a JSON object");
    check_model(body, ctx);
    refuse_unsupported(body);

    ApiRequest req;
    req.endpoint = endpoint;
    EngineRequest& e = req.engine;
    e.prompt = endpoint == Endpoint::ChatCompletions ? chat_prompt(body, ctx) : completion_prompt(body, ctx);
    if (e.prompt.empty()) throw bad(endpoint == Endpoint::ChatCompletions ? "messages" : "prompt", "the prompt is empty");
    const int n_prompt = static_cast<int>(e.prompt.size());
    if (n_prompt >= ctx.n_ctx) {
        throw bad(endpoint == Endpoint::ChatCompletions ? "messages" : "prompt",
                  fmt::format("This model's maximum context length is {} tokens. However, your {} resulted in {} "
                              "tokens.", ctx.n_ctx, endpoint == Endpoint::ChatCompletions ? "messages" : "prompt",
                              n_prompt), "context_length_exceeded");
    }

    // OpenAI's defaults: 16 tokens for completions, as many as fit for chat.
    const int fallback = endpoint == Endpoint::Completions ? 16 : std::min(ctx.limits.max_tokens, ctx.n_ctx - n_prompt);
    const char* max_name = endpoint == Endpoint::ChatCompletions && field(body, "max_completion_tokens")
                               ? "max_completion_tokens"
                               : "max_tokens";
    e.max_tokens = static_cast<int>(integer(body, max_name, fallback, 1, ctx.limits.max_tokens));
    e.n = static_cast<int>(integer(body, "n", 1, 1, ctx.limits.max_n));
    e.stop_strings = stop_strings(body, ctx.limits);
    e.grammar = response_grammar(body);

    SamplingParams& s = e.sampling;
    s.temperature = static_cast<float>(number(body, "temperature", 1.0, 0.0, 2.0));
    s.top_p = static_cast<float>(number(body, "top_p", 1.0, 0.0, 1.0));
    if (s.top_p == 0.0f) {  // "only the most likely token": greedy
        s.temperature = 0.0f;
        s.top_p = 1.0f;
    }
    s.presence_penalty = static_cast<float>(number(body, "presence_penalty", 0.0, -2.0, 2.0));
    s.frequency_penalty = static_cast<float>(number(body, "frequency_penalty", 0.0, -2.0, 2.0));
    s.top_k = static_cast<int>(integer(body, "top_k", 0, 0, 1 << 20));
    s.min_p = static_cast<float>(number(body, "min_p", 0.0, 0.0, 1.0));
    s.repeat_penalty = static_cast<float>(number(body, "repeat_penalty", 1.0, 0.01, 10.0));
    if (field(body, "seed")) {
        s.seed = static_cast<uint64_t>(integer(body, "seed", 0, INT64_MIN, INT64_MAX));
    } else {
        s.seed = kSeedFromOs;
    }

    req.stream = boolean(body, "stream", false);
    if (const json* opts = field(body, "stream_options")) {
        if (!opts->is_object()) throw bad("stream_options", "'stream_options' must be an object");
        req.include_usage = boolean(*opts, "include_usage", false);
    }
    return req;
}

std::string finish_reason(StopReason reason) {
    switch (reason) {
        case StopReason::Length:
        case StopReason::ContextFull: return "length";
        case StopReason::EndOfGeneration:
        case StopReason::StopString:
        case StopReason::Cancelled: return "stop";
    }
    return "stop";
}

json usage_json(const Usage& u) {
    return {{"prompt_tokens", u.prompt_tokens},
            {"completion_tokens", u.completion_tokens},
            {"total_tokens", u.prompt_tokens + u.completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

json response_json(Endpoint endpoint, const ResponseHeader& h, const std::vector<ChoiceResult>& choices,
                   const Usage& usage) {
    const bool chat = endpoint == Endpoint::ChatCompletions;
    json list = json::array();
    for (size_t i = 0; i < choices.size(); ++i) {
        json c = {{"index", i}, {"logprobs", nullptr}, {"finish_reason", choices[i].finish_reason}};
        if (chat) {
            c["message"] = {{"role", "assistant"}, {"content", choices[i].text}};
        } else {
            c["text"] = choices[i].text;
        }
        list.push_back(std::move(c));
    }
    return {{"id", h.id},
            {"object", chat ? "chat.completion" : "text_completion"},
            {"created", h.created},
            {"model", h.model},
            {"choices", std::move(list)},
            {"usage", usage_json(usage)}};
}

json chunk_json(Endpoint endpoint, const ResponseHeader& h, int index, bool with_role, const std::string& text,
                const std::optional<std::string>& finish) {
    const bool chat = endpoint == Endpoint::ChatCompletions;
    json c = {{"index", index}, {"logprobs", nullptr}, {"finish_reason", finish ? json(*finish) : json(nullptr)}};
    if (chat) {
        json delta = json::object();
        if (with_role) delta["role"] = "assistant";
        if (with_role || !text.empty()) delta["content"] = text;
        c["delta"] = std::move(delta);
    } else {
        c["text"] = text;
    }
    return {{"id", h.id},
            {"object", chat ? "chat.completion.chunk" : "text_completion"},
            {"created", h.created},
            {"model", h.model},
            {"choices", json::array({std::move(c)})}};
}

json usage_chunk_json(Endpoint endpoint, const ResponseHeader& h, const Usage& usage) {
    return {{"id", h.id},
            {"object", endpoint == Endpoint::ChatCompletions ? "chat.completion.chunk" : "text_completion"},
            {"created", h.created},
            {"model", h.model},
            {"choices", json::array()},
            {"usage", usage_json(usage)}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace peregrine::server
