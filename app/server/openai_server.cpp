#include "server/openai_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "peregrine/error.h"
#include "peregrine/log.h"
#include "server/connection_watch.h"
#include "server/update_channel.h"

namespace peregrine::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// How often a waiting handler looks at the stop flag, and how long a stream may stay silent before a
// keep-alive comment goes out (the write that tells a vanished client from a slow engine).
constexpr auto kPoll = std::chrono::milliseconds(100);
constexpr auto kKeepAlive = std::chrono::milliseconds(1000);

void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status();
    res.set_content(dump(e.body()), "application/json");
}

// Compares without stopping at the first difference, so response time says nothing about the key.
bool same_key(const std::string& given, const std::string& expected) {
    unsigned diff = given.size() == expected.size() ? 0u : 1u;
    for (size_t i = 0; i < given.size(); ++i) {
        diff |= static_cast<unsigned char>(given[i]) ^ static_cast<unsigned char>(expected[i % expected.size()]);
    }
    return diff == 0;
}

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string new_response_id(Endpoint endpoint) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("{}-{:016x}", endpoint == Endpoint::ChatCompletions ? "chatcmpl" : "cmpl", rng());
}

std::string sse(const json& j) { return "data: " + dump(j) + "\n\n"; }

// One streamed response: what has been sent so far.
struct StreamState {
    ApiRequest api;
    ResponseHeader header;
    std::shared_ptr<UpdateChannel> channel;
    uint64_t request_id = 0;
    std::vector<bool> role_sent;
    Usage usage;
    bool client_gone = false;
};

void add_usage(Usage& usage, const RequestUpdate& u) {
    usage.completion_tokens += static_cast<int>(u.tokens.size());
    usage.prompt_tokens = u.n_prompt_tokens;
    if (u.finished && u.index == 0) usage.cached_tokens = u.n_cached_prompt_tokens;
}

}  // namespace

std::string model_id_from_path(const std::string& path) {
    std::filesystem::path p(path);
    return p.extension() == ".gguf" ? p.stem().string() : p.filename().string();
}

struct OpenAiServer::Handlers {
    OpenAiServer& s;

    void health(httplib::Response& res) const {
        const EngineStats st = s.engine_->stats();
        const json body = {
            {"status", "ok"},
            {"model", s.options_.model_id},
            {"running", st.n_running},
            {"waiting", st.n_waiting},
            {"max_sequences", st.max_sequences},
            {"kv_cache",
             {{"block_size", st.kv.block_size},
              {"blocks_total", st.kv.blocks_total},
              {"blocks_used", st.kv.blocks_used},
              {"blocks_free", st.kv.blocks_free},
              {"blocks_cached", st.kv.blocks_cached},
              {"prefix_hit_rate", st.kv.prefix_hit_rate()}}},
            {"requests",
             {{"finished", st.requests_finished},
              {"cancelled", st.requests_cancelled},
              {"disconnected", s.counters_.disconnects.load()},
              {"errors", s.counters_.errors.load()}}},
            {"tokens", {{"generated", st.generated_tokens}, {"prompt_rows", st.prompt_rows}}},
        };
        res.set_content(dump(body), "application/json");
    }

    void models(httplib::Response& res) const {
        const json body = {{"object", "list"},
                           {"data", json::array({{{"id", s.options_.model_id},
                                                  {"object", "model"},
                                                  {"created", 0},
                                                  {"owned_by", "peregrine"}}})}};
        res.set_content(dump(body), "application/json");
    }

    void fail(httplib::Response& res, const ApiError& e) const {
        ++s.counters_.errors;
        send_error(res, e);
    }

    void completion(Endpoint endpoint, const httplib::Request& req, httplib::Response& res) const {
        ++s.counters_.requests;
        ApiRequest api;
        try {
            api = parse_request(endpoint, req.body, s.api_);
        } catch (const ApiError& e) {
            return fail(res, e);
        } catch (const Error& e) {  // the chat template or tokenizer refused the input
            return fail(res, ApiError(400, e.what()));
        }
        auto channel = std::make_shared<UpdateChannel>();
        uint64_t id = 0;
        try {
            id = s.engine_->submit(api.engine, [channel](const RequestUpdate& u) { channel->push(u); });
        } catch (const InvalidRequestError& e) {
            return fail(res, ApiError(400, e.what()));
        }
        const ResponseHeader header{new_response_id(endpoint), unix_now(), s.options_.model_id};
        if (!api.stream) return respond_whole(api, header, *channel, id, req, res);

        auto state = std::make_shared<StreamState>();
        state->api = std::move(api);
        state->header = header;
        state->channel = channel;
        state->request_id = id;
        state->role_sent.assign(static_cast<size_t>(state->api.engine.n), false);
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Accel-Buffering", "no");
        OpenAiServer* server = &s;
        res.set_chunked_content_provider(
            "text/event-stream",
            [server, state](size_t, httplib::DataSink& sink) { return Handlers{*server}.stream(*state, sink); },
            // Runs however the response ends; a request still generating has lost its client.
            [server, state](bool) {
                if (!state->channel->finished()) {
                    server->engine_->cancel(state->request_id);
                    if (!state->client_gone) ++server->counters_.disconnects;
                }
            });
    }

    // Waits for the whole answer. Nothing is written meanwhile, so a client that hangs up is noticed by
    // watching its socket (every kPoll) and its request is cancelled, which frees its blocks at once.
    void respond_whole(const ApiRequest& api, const ResponseHeader& header, UpdateChannel& channel, uint64_t id,
                       const httplib::Request& req, httplib::Response& res) const {
        std::vector<ChoiceResult> choices(static_cast<size_t>(api.engine.n));
        Usage usage;
        std::string error;
        ConnectionWatch watch(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
        auto last_check = Clock::now();
        for (bool done = false; !done;) {
            if (s.stopping_) {
                s.engine_->cancel(id);
                return fail(res, ApiError(503, "the server is shutting down", "server_error"));
            }
            if (Clock::now() - last_check >= kPoll) {
                last_check = Clock::now();
                if (watch.peer_closed()) {
                    s.engine_->cancel(id);
                    ++s.counters_.disconnects;
                    // Nobody reads this; httplib's write fails and it closes the connection.
                    return send_error(res, ApiError(499, "the client closed the connection", "invalid_request_error"));
                }
            }
            for (const RequestUpdate& u : channel.wait(kPoll)) {
                ChoiceResult& c = choices.at(static_cast<size_t>(u.index));
                c.text += u.text;
                add_usage(usage, u);
                if (u.finished) c.finish_reason = finish_reason(u.stop_reason);
                if (!u.error.empty()) error = u.error;
                done = done || u.all_finished;
            }
        }
        if (!error.empty()) return fail(res, ApiError(500, error, "server_error"));
        res.set_content(dump(response_json(api.endpoint, header, choices, usage)), "application/json");
    }

    // Writes server-sent events until the request is done. Returning false makes httplib drop the
    // connection; the releaser then cancels the request.
    bool stream(StreamState& st, httplib::DataSink& sink) const {
        const auto write = [&](const std::string& text) {
            if (sink.write(text.data(), text.size())) return true;
            if (!st.client_gone) {
                st.client_gone = true;
                ++s.counters_.disconnects;
                s.engine_->cancel(st.request_id);
            }
            return false;
        };
        const Endpoint ep = st.api.endpoint;
        auto last_write = Clock::now();
        for (;;) {
            if (s.stopping_) {
                s.engine_->cancel(st.request_id);
                return false;
            }
            const std::vector<RequestUpdate> updates = st.channel->wait(kPoll);
            if (updates.empty()) {
                if (Clock::now() - last_write >= kKeepAlive) {
                    if (!write(": keep-alive\n\n")) return false;
                    last_write = Clock::now();
                }
                continue;
            }
            for (const RequestUpdate& u : updates) {
                add_usage(st.usage, u);
                if (!u.error.empty()) {
                    ++s.counters_.errors;
                    write(sse(ApiError(500, u.error, "server_error").body()));
                    write("data: [DONE]\n\n");
                    sink.done();
                    return true;
                }
                const size_t i = static_cast<size_t>(u.index);
                const bool with_role = ep == Endpoint::ChatCompletions && !st.role_sent.at(i);
                st.role_sent.at(i) = true;
                if (with_role && !write(sse(chunk_json(ep, st.header, u.index, true, "", std::nullopt)))) return false;
                if (!u.text.empty() && !write(sse(chunk_json(ep, st.header, u.index, false, u.text, std::nullopt)))) {
                    return false;
                }
                if (u.finished &&
                    !write(sse(chunk_json(ep, st.header, u.index, false, "", finish_reason(u.stop_reason))))) {
                    return false;
                }
                if (u.all_finished) {
                    if (st.api.include_usage && !write(sse(usage_chunk_json(ep, st.header, st.usage)))) return false;
                    if (!write("data: [DONE]\n\n")) return false;
                    sink.done();
                    return true;
                }
            }
            last_write = Clock::now();
        }
    }

    // Fills in an OpenAI error object for statuses httplib produces itself (no route, body too big...).
    httplib::Server::HandlerResponse on_error(const httplib::Request& req, httplib::Response& res) const {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        ++s.counters_.errors;
        switch (res.status) {
            case 404:
                send_error(res, ApiError(404, fmt::format("Unknown request URL: {} {}", req.method, req.path),
                                         "invalid_request_error", {}, "unknown_url"));
                break;
            case 413:
                send_error(res, ApiError(413, fmt::format("The request body is larger than the {} bytes this server "
                                                          "accepts", s.options_.limits.max_body_bytes),
                                         "invalid_request_error", {}, "request_too_large"));
                break;
            default:
                send_error(res, ApiError(res.status, fmt::format("HTTP error {}", res.status),
                                         res.status >= 500 ? "server_error" : "invalid_request_error"));
        }
        return httplib::Server::HandlerResponse::Handled;
    }

    httplib::Server::HandlerResponse check_key(const httplib::Request& req, httplib::Response& res) const {
        if (s.options_.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
        const std::string auth = req.get_header_value("Authorization");
        const std::string prefix = "Bearer ";
        if (auth.rfind(prefix, 0) == 0 && same_key(auth.substr(prefix.size()), s.options_.api_key)) {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        fail(res, ApiError(401, auth.empty() ? "You didn't provide an API key (Authorization: Bearer YOUR_KEY)."
                                             : "Incorrect API key provided.",
                           "invalid_request_error", {}, "invalid_api_key"));
        return httplib::Server::HandlerResponse::Handled;
    }
};

OpenAiServer::OpenAiServer(const LoadedModel& model, const EngineParams& engine_params, ServerOptions options)
    : options_(std::move(options)), model_(model) {
    if (options_.model_id.empty()) options_.model_id = model_id_from_path(model.model->gguf().path());
    engine_ = std::make_unique<Engine>(model, engine_params);
    api_.model = &model_;
    api_.model_id = options_.model_id;
    api_.n_ctx = engine_params.context.n_ctx > 0 ? engine_params.context.n_ctx : model.model->info().n_ctx_train;
    api_.limits = options_.limits;

    http_ = std::make_unique<httplib::Server>();
    const int threads = options_.http_threads > 0 ? options_.http_threads
                                                  : std::max(16, 4 * engine_params.context.n_seq_max);
    http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http_->set_payload_max_length(options_.limits.max_body_bytes);
    const Handlers h{*this};
    http_->set_pre_routing_handler([h](const httplib::Request& req, httplib::Response& res) { return h.check_key(req, res); });
    http_->set_error_handler(httplib::Server::HandlerWithResponse(
        [h](const httplib::Request& req, httplib::Response& res) { return h.on_error(req, res); }));
    http_->set_exception_handler([h](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        log_warn("server: a handler threw: {}", what);
        h.fail(res, ApiError(500, what, "server_error"));
    });
    http_->Get("/health", [h](const httplib::Request&, httplib::Response& res) { h.health(res); });
    http_->Get("/v1/models", [h](const httplib::Request&, httplib::Response& res) { h.models(res); });
    http_->Post("/v1/completions", [h](const httplib::Request& req, httplib::Response& res) {
        h.completion(Endpoint::Completions, req, res);
    });
    http_->Post("/v1/chat/completions", [h](const httplib::Request& req, httplib::Response& res) {
        h.completion(Endpoint::ChatCompletions, req, res);
    });
}

OpenAiServer::~OpenAiServer() { stop(); }

int OpenAiServer::start() {
    if (listener_.joinable()) return port_;
    if (options_.port < 0 || options_.port > 65535) throw Error(fmt::format("server: port {} is out of range", options_.port));
    // Remembers the listening socket. SO_REUSEADDR lets a restarted server bind while old connections
    // linger; no SO_REUSEPORT (httplib's default), so a second server on the same port fails loudly.
    http_->set_socket_options([this](socket_t sock) {
        const int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        listen_fd_ = sock;
    });
    port_ = options_.port == 0 ? http_->bind_to_any_port(options_.host)
                               : (http_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
    if (port_ <= 0) {
        throw Error(fmt::format("server: cannot listen on {}:{} (address in use or not available)", options_.host,
                                options_.port));
    }
    // The packaged libcpp-httplib listens with a backlog of 5: a burst of clients overflows it, and
    // loopback connections completed by SYN cookies are then reset. listen() again raises it.
    if (listen_fd_ >= 0) ::listen(listen_fd_, SOMAXCONN);
    listener_ = std::thread([this] { http_->listen_after_bind(); });
    // stop() only reaches a server that is already in its accept loop.
    for (int i = 0; i < 500 && !http_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    log_info("server: listening on http://{}:{} (model '{}')", options_.host, port_, options_.model_id);
    return port_;
}

void OpenAiServer::stop() {
    if (!listener_.joinable()) return;
    stopping_ = true;
    http_->stop();
    listener_.join();
    stopping_ = false;
}

bool OpenAiServer::running() const { return listener_.joinable() && http_->is_running(); }

}  // namespace peregrine::server
