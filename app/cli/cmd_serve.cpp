// `peregrine-cli serve`: the OpenAI-compatible HTTP server on one model until Ctrl-C.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "commands.h"
#include "peregrine/error.h"
#include "peregrine/loaded_model.h"

#ifdef PEREGRINE_HAVE_SERVER
#include "server/openai_server.h"
#endif

namespace peregrine::cli {
namespace {

struct ServeOptions {
    std::string model_path;
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string api_key;
    std::string model_id;
    int parallel = 4;
    int n_ctx = 0;
    int n_threads = 0;
    int batch_tokens = 512;
    int kv_blocks = 0;
    int max_tokens = 4096;
    size_t max_body = 1 << 20;
    bool static_batching = false;
};

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) { g_stop = true; }

bool is_loopback(const std::string& host) {
    return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

int run(const ServeOptions& opt) {
#ifdef PEREGRINE_HAVE_SERVER
    const LoadedModel loaded = LoadedModel::load(opt.model_path);
    EngineParams ep;
    ep.context.n_ctx = opt.n_ctx;
    ep.context.n_threads = opt.n_threads;
    ep.context.n_seq_max = opt.parallel;
    ep.context.kv_pool_blocks = opt.kv_blocks;
    ep.max_batch_tokens = opt.batch_tokens;
    ep.scheduling = opt.static_batching ? SchedulingMode::Static : SchedulingMode::Continuous;
    server::ServerOptions so;
    so.host = opt.host;
    so.port = opt.port;
    so.api_key = opt.api_key;
    so.model_id = opt.model_id;
    so.limits.max_tokens = opt.max_tokens;
    so.limits.max_body_bytes = opt.max_body;
    if (!is_loopback(opt.host) && opt.api_key.empty()) {
        std::fprintf(stderr, "warning: listening on %s without --api-key: anyone who can reach this machine can use "
                             "the model\n", opt.host.c_str());
    }
    server::OpenAiServer srv(loaded, ep, so);
    const int port = srv.start();
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::fprintf(stderr, "serving '%s' on http://%s:%d/v1 (%d parallel sequences); Ctrl-C stops\n",
                 srv.model_id().c_str(), opt.host.c_str(), port, opt.parallel);
    while (!g_stop && srv.running()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::fprintf(stderr, "stopping\n");
    srv.stop();
    return 0;
#else
    (void)opt;
    std::fprintf(stderr, "error: this peregrine-cli was built without the HTTP server (cpp-httplib)\n");
    return 1;
#endif
}

}  // namespace

CommandRunner add_serve_command(CLI::App& app) {
    auto opt = std::make_shared<ServeOptions>();
    auto* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
    cmd->add_option("-m,--model", opt->model_path, "GGUF model file")->required();
    cmd->add_option("--host", opt->host, "Address to listen on (loopback by default)")->capture_default_str();
    cmd->add_option("--port", opt->port, "TCP port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
    cmd->add_option("--api-key", opt->api_key, "Require 'Authorization: Bearer KEY'")->envname("PEREGRINE_API_KEY");
    cmd->add_option("--model-id", opt->model_id, "Model name clients use (default: the file name without .gguf)");
    cmd->add_option("--parallel", opt->parallel, "Sequences decoded together")->capture_default_str()->check(CLI::Range(1, 1024));
    cmd->add_option("-c,--ctx-size", opt->n_ctx, "Context length per sequence (0: the model's)")->capture_default_str();
    cmd->add_option("-t,--threads", opt->n_threads, "CPU threads (0: all cores)")->capture_default_str();
    cmd->add_option("--batch-tokens", opt->batch_tokens, "Rows per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--kv-blocks", opt->kv_blocks, "KV cache blocks of 16 positions (0: parallel full contexts)")
        ->capture_default_str();
    cmd->add_option("--max-tokens", opt->max_tokens, "Largest max_tokens a request may ask for")->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--max-body", opt->max_body, "Largest request body in bytes")->capture_default_str();
    cmd->add_flag("--static-batching", opt->static_batching, "Admit a new batch only when the last one has ended");
    return [opt] { return run(*opt); };
}

}  // namespace peregrine::cli
