// Getting model files: Hugging Face Hub listings and downloads that resume and verify (libcurl, no Qt).
//
// A download goes to DIR/NAME.part and becomes DIR/NAME only after its sha256 matched what the source
// promised (the Hub's LFS sha256), so no half-written file ever carries a .gguf name. A dropped
// connection resumes with an HTTP Range request from the bytes already in the part file; a hash
// mismatch deletes the part file and says so; a cancel keeps it for the next attempt.
//
//   auto source = peregrine::resolve_hub_file({.repo = "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
//                                              .file = "qwen2.5-0.5b-instruct-q4_k_m.gguf"});
//   auto result = peregrine::download_file(source, {.dir = peregrine::default_models_dir(),
//                                                   .on_progress = show, .cancel = &stop});
//
// Endpoint: the `endpoint` argument when set, else $PEREGRINE_HF_ENDPOINT, else $HF_ENDPOINT, else
// https://huggingface.co (so mirrors work and tests point it at loopback). A token for gated or private
// repositories comes from $HF_TOKEN. Proxies come from the environment (http_proxy, https_proxy,
// no_proxy), which libcurl reads itself.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "peregrine/error.h"

namespace peregrine {

// Every download failure. kind() lets a UI choose what to offer (retry, free space, check the name).
class DownloadError : public Error {
public:
    enum class Kind {
        Network,       // connection refused, dropped, stalled or timed out (retrying resumes)
        NotFound,      // HTTP 404: no such repository, revision or file
        AccessDenied,  // HTTP 401/403: gated or private; needs HF_TOKEN
        Http,          // any other HTTP error status
        BadResponse,   // the server's answer makes no sense (bad JSON, wrong Content-Range, size changed)
        HashMismatch,  // the bytes do not have the promised sha256; the part file was deleted
        DiskFull,      // not enough free space for the rest of the file
        Filesystem,    // cannot create, write or rename in the target folder
        Cancelled,     // the cancel flag was set; the part file is kept
    };
    DownloadError(Kind kind, const std::string& message, long http_status = 0)
        : Error(message), kind_(kind), http_status_(http_status) {}
    Kind kind() const { return kind_; }
    long http_status() const { return http_status_; }

private:
    Kind kind_;
    long http_status_;
};

// What to fetch and what it must turn out to be.
struct DownloadSource {
    std::string url{};      // http(s) URL of the bytes (redirects are followed)
    std::string file_name{};  // final name inside the target folder; plain name, no '/' or leading '.'
    std::string sha256{};   // lowercase hex; empty: not verified (a warning is logged)
    uint64_t size = 0;      // expected bytes; 0: unknown (taken from the response)
};

enum class DownloadPhase {
    CheckingPart,  // hashing the bytes a previous attempt left in the part file
    Downloading,
};

struct DownloadProgress {
    DownloadPhase phase = DownloadPhase::Downloading;
    uint64_t bytes_done = 0;       // bytes of the file in hand (including what was resumed)
    uint64_t bytes_total = 0;      // 0 while unknown
    uint64_t resumed_from = 0;     // bytes the part file already had when this download started
    double bytes_per_second = 0;   // over the last few seconds
    double eta_seconds = -1;       // -1 while unknown
    int attempt = 1;               // 1, then 2... after a dropped connection
};
// Called on the downloading thread, at most about ten times a second and once at the end.
using DownloadProgressCallback = std::function<void(const DownloadProgress&)>;

struct DownloadOptions {
    std::filesystem::path dir{};               // target folder; created when missing
    DownloadProgressCallback on_progress{};    // optional
    const std::atomic<bool>* cancel = nullptr;  // optional; checked several times a second
    int max_attempts = 4;                      // connection attempts; each retry resumes the part file
    int retry_delay_ms = 1000;                 // first pause between attempts, doubled each time
    long connect_timeout_s = 30;
    long stall_timeout_s = 60;                 // a transfer with no bytes for this long counts as dropped
    std::string token{};                       // bearer token; empty: $HF_TOKEN when set
};

struct DownloadResult {
    std::filesystem::path path;   // the verified file, DIR/NAME
    std::string sha256;           // of the file on disk
    uint64_t size = 0;
    uint64_t bytes_received = 0;  // body bytes fetched by this call (resume and retries make it < size)
    bool verified = false;        // sha256 compared with the source's
    bool already_present = false; // DIR/NAME was already there with the expected size; nothing fetched
};

// Downloads `source` into options.dir. Throws DownloadError. Thread-safe for different targets; a second
// process downloading the same part file gets a Filesystem error instead of interleaving bytes.
DownloadResult download_file(const DownloadSource& source, const DownloadOptions& options);

// Lowercase hex sha256 of bytes or of a file (throws DownloadError{Filesystem} when unreadable).
std::string sha256_hex(std::string_view bytes);
std::string sha256_hex_of_file(const std::filesystem::path& path);

// ---- Hugging Face Hub ----

// The endpoint to use (no trailing '/'): `configured` when not empty, else the environment, else the Hub.
std::string hf_endpoint(std::string_view configured = {});

struct HubFileRef {
    std::string repo{};            // "owner/name"
    std::string file{};            // path inside the repository, a quantization ("Q4_K_M"), or empty
    std::string endpoint{};        // empty: hf_endpoint()
    std::string revision = "main";
};

// One GGUF file of a repository, from the Hub's tree API (LFS metadata).
struct HubFile {
    std::string path;          // inside the repository, e.g. "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf"
    uint64_t size = 0;
    std::string sha256;        // from lfs.oid; empty for a file not stored in LFS
    std::string quantization;  // "Q4_K_M", "Q8_0", "F16"... from the file name; empty when none is named
};

// The GGUF files of a repository with sizes, hashes and quantizations, sorted by path (follows the
// API's pagination). Multi-part files (-00001-of-00003.gguf) and vision projectors (mmproj-*) are left
// out: the engine loads one whole file. Throws DownloadError (NotFound names the repository).
std::vector<HubFile> list_hub_gguf_files(const std::string& repo, std::string_view endpoint = {},
                                         const std::string& revision = "main", const std::string& token = {});

// The quantization named in a GGUF file name ("Q4_K_M", "IQ4_XS", "F16", "BF16"), upper case; empty if none.
std::string quantization_from_file_name(std::string_view file_name);

// Picks a file: `wanted` is a path in the repository (or its base name), a quantization ("q4_k_m"), or
// empty (Q4_K_M when offered, else the first). Throws DownloadError{NotFound} listing what there is.
const HubFile& choose_hub_file(const std::vector<HubFile>& files, std::string_view wanted,
                               std::string_view repo_for_messages = {});

// "https://host/{repo}/resolve/{revision}/{file}" with every path segment percent-encoded.
std::string hub_file_url(const HubFileRef& ref);

// Looks the file up in the repository listing (choose_hub_file, for its sha256 and size) and returns
// what to download.
DownloadSource resolve_hub_file(const HubFileRef& ref, const std::string& token = {});

// Where downloaded models go by default: $XDG_DATA_HOME/peregrine/models, else ~/.local/share/peregrine/models.
std::filesystem::path default_models_dir();

// ---- A queue of downloads for the app ----

enum class DownloadState { Queued, Running, Finished, Failed, Cancelled };

struct DownloadUpdate {
    uint64_t id = 0;
    DownloadState state = DownloadState::Queued;
    std::string name;              // the file name, for display
    DownloadProgress progress;     // meaningful while Running
    std::filesystem::path path;    // Finished: the verified file
    std::string error;             // Failed: the message; Cancelled: what was kept
    std::optional<DownloadError::Kind> error_kind;
};

// Runs downloads one after another on its own thread. The listener is called on that thread (and, for
// a job cancelled before it started, from cancel() itself), never twice at once: a Qt caller forwards
// each update to its GUI thread with a queued signal. Destruction cancels what is running (its part
// file stays resumable) and drops what is queued without further updates.
class DownloadQueue {
public:
    using Listener = std::function<void(const DownloadUpdate&)>;

    explicit DownloadQueue(Listener listener);
    ~DownloadQueue();
    DownloadQueue(const DownloadQueue&) = delete;
    DownloadQueue& operator=(const DownloadQueue&) = delete;

    // Both return the job id. options.cancel is ignored: use cancel(id). A Hub reference is resolved
    // (listing, sha256) on the queue's thread, so enqueueing never blocks.
    uint64_t enqueue(DownloadSource source, DownloadOptions options);
    uint64_t enqueue(HubFileRef ref, DownloadOptions options);

    // Cancels a queued or running job; false when the id is unknown or already done.
    bool cancel(uint64_t id);
    void cancel_all();
    // Blocks until no job is queued or running.
    void wait_idle();

private:
    struct Job {
        uint64_t id;
        std::variant<DownloadSource, HubFileRef> what;
        DownloadOptions options;
        std::shared_ptr<std::atomic<bool>> cancel;
    };
    void run();
    void run_job(Job& job);
    void notify(const DownloadUpdate& update);

    Listener listener_;
    std::recursive_mutex listener_mutex_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Job> queued_;
    std::shared_ptr<std::atomic<bool>> running_cancel_;
    uint64_t running_id_ = 0;
    uint64_t next_id_ = 1;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace peregrine
