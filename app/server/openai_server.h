// The local OpenAI-compatible HTTP server (`peregrine-cli serve`), on cpp-httplib:
//   GET  /health                 {"status": "ok", ...} with the engine's counters (no API key needed)
//   GET  /v1/models              the one loaded model
//   POST /v1/completions         prompt -> text; streamed as server-sent events with "stream": true
//   POST /v1/chat/completions    messages through the model's chat template
// Every request becomes one Engine request, so concurrent clients are batched together. A streaming
// client that goes away is noticed at the next write (tokens, or a keep-alive comment every second) and
// its request is cancelled, which frees its KV blocks at once; a non-streamed request writes nothing
// until it is done, so its socket is watched instead (server/connection_watch.h) and a hang-up cancels
// it the same way. response_format (json_object, json_schema) constrains the output with a grammar
// (see openai_api.h). Errors are OpenAI error objects with a
// 4xx status: malformed JSON, bad parameters, unknown model, missing or wrong API key, oversized body.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "peregrine/engine.h"
#include "peregrine/loaded_model.h"
#include "server/openai_api.h"

namespace httplib {
class Server;
}

namespace peregrine::server {

struct ServerOptions {
    std::string host = "127.0.0.1";  // loopback unless asked otherwise
    int port = 8080;                 // 0: any free port (start() returns it)
    std::string api_key;             // empty: no key required
    std::string model_id;            // the name clients use; default: the model file's stem
    ApiLimits limits;
    int http_threads = 0;            // 0: enough to keep every engine slot busy (4 * n_seq_max, at least 16)
};

struct ServerCounters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> errors{0};        // requests answered with a 4xx/5xx
    std::atomic<uint64_t> disconnects{0};   // streams cancelled because the client went away
};

class OpenAiServer {
public:
    // Starts the engine (throws what Engine throws). The server does not listen until start().
    OpenAiServer(const LoadedModel& model, const EngineParams& engine_params, ServerOptions options);
    ~OpenAiServer();  // stop()
    OpenAiServer(const OpenAiServer&) = delete;
    OpenAiServer& operator=(const OpenAiServer&) = delete;

    // Binds and serves on a thread of its own; returns the port. Throws Error when the address cannot
    // be bound.
    int start();
    // Ends open streams (their requests are cancelled), stops listening and joins the thread.
    void stop();
    bool running() const;

    Engine& engine() { return *engine_; }
    const ServerCounters& counters() const { return counters_; }
    const std::string& model_id() const { return options_.model_id; }

private:
    struct Handlers;

    ServerOptions options_;
    ApiContext api_;
    LoadedModel model_;
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<httplib::Server> http_;
    std::thread listener_;
    std::atomic<bool> stopping_{false};
    ServerCounters counters_;
    int port_ = 0;
    int listen_fd_ = -1;
};

// "models/llama-7b.Q4_0.gguf" -> "llama-7b.Q4_0"
std::string model_id_from_path(const std::string& path);

}  // namespace peregrine::server
