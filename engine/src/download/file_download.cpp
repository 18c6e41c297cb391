// download_file: fetch into NAME.part (resuming with Range), hash as the bytes arrive, rename after
// the sha256 matched. Attempts after a dropped connection resume from what the part file holds.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <thread>

#include "download/http_transfer.h"
#include "download/part_file.h"
#include "download/rate_meter.h"
#include "download/sha256.h"
#include "peregrine/download.h"
#include "peregrine/log.h"

namespace peregrine {
namespace {

namespace fs = std::filesystem;
using download::BodySink;
using download::HttpResponseHead;
using download::PartFile;
using download::RateMeter;
using download::Sha256;
using download::TransportResult;
using Kind = DownloadError::Kind;

// Room left besides the file itself, so a download never fills a disk to the last byte.
constexpr uint64_t kDiskReserve = uint64_t(64) << 20;
constexpr auto kProgressInterval = std::chrono::milliseconds(100);

std::string human_size(uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

void validate_source(const DownloadSource& source) {
    const std::string& name = source.file_name;
    if (name.empty() || name == "." || name == ".." || name.front() == '.' ||
        name.find_first_of("/\\") != std::string::npos || name.find('\0') != std::string::npos) {
        throw DownloadError(Kind::Filesystem,
                            fmt::format("'{}' is not a usable file name for a download (a plain name is needed)", name));
    }
    if (source.url.rfind("http://", 0) != 0 && source.url.rfind("https://", 0) != 0) {
        throw DownloadError(Kind::BadResponse, fmt::format("'{}' is not an http(s) URL", source.url));
    }
    const std::string& sha = source.sha256;
    if (!sha.empty() && (sha.size() != 64 || !std::all_of(sha.begin(), sha.end(), [](char c) {
                             return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                         }))) {
        throw DownloadError(Kind::BadResponse,
                            fmt::format("expected sha256 for {} is not 64 hex digits: '{}'", name, sha));
    }
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

void require_space(const fs::path& dir, uint64_t needed, const std::string& name) {
    const uint64_t free = download::free_disk_bytes(dir);
    if (needed + kDiskReserve > free) {
        throw DownloadError(Kind::DiskFull,
                            fmt::format("not enough disk space for {} in {}: {} more needed (plus {} to spare), "
                                        "{} free",
                                        name, dir.string(), human_size(needed), human_size(kDiskReserve),
                                        human_size(free)));
    }
}

// Sleeps up to `ms`, waking early when cancelled; returns false when cancelled.
bool pause_unless_cancelled(int ms, const std::atomic<bool>* cancel) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
        if (cancel && cancel->load()) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return !(cancel && cancel->load());
}

// "bytes 100-199/1000" → {100, 1000}; "bytes */1000" → {-1, 1000}. Total 0 when unknown ('*').
struct ContentRange {
    int64_t first = -1;
    uint64_t total = 0;
    bool valid = false;
};

ContentRange parse_content_range(const std::string& value) {
    ContentRange r;
    if (value.rfind("bytes ", 0) != 0) return r;
    const size_t slash = value.find('/');
    if (slash == std::string::npos) return r;
    const std::string span = value.substr(6, slash - 6);
    const std::string total = value.substr(slash + 1);
    try {
        if (total != "*") r.total = std::stoull(total);
        if (span != "*") r.first = std::stoll(span.substr(0, span.find('-')));
    } catch (const std::exception&) {
        return r;
    }
    r.valid = true;
    return r;
}

// One download_file call: the part file, the running hash and the progress reporting, shared by the
// attempts. Receives the bodies of the attempts as a BodySink.
class Session : public BodySink {
public:
    Session(const DownloadSource& source, const DownloadOptions& options, PartFile& part)
        : source_(source), options_(options), part_(part), total_(source.size) {}

    Sha256& hash() { return hash_; }
    uint64_t total() const { return total_; }
    uint64_t received() const { return received_; }
    bool cancelled() const { return options_.cancel && options_.cancel->load(); }

    void set_resumed_from(uint64_t bytes) { resumed_from_ = bytes; }

    void begin_attempt(int attempt, uint64_t offset) {
        attempt_ = attempt;
        offset_ = offset;
        writing_ = false;
        range_not_satisfiable_ = false;
        failure_ = nullptr;
    }

    std::exception_ptr failure() const { return failure_; }
    bool range_not_satisfiable() const { return range_not_satisfiable_; }

    void report(DownloadPhase phase, uint64_t done, bool force) {
        if (!options_.on_progress) return;
        const auto now = RateMeter::Clock::now();
        if (!force && now - last_report_ < kProgressInterval) return;
        last_report_ = now;
        DownloadProgress p;
        p.phase = phase;
        p.bytes_done = done;
        p.bytes_total = total_;
        p.resumed_from = resumed_from_;
        p.attempt = attempt_;
        if (phase == DownloadPhase::Downloading) {
            p.bytes_per_second = meter_.bytes_per_second();
            if (total_ > done) p.eta_seconds = meter_.eta_seconds(total_ - done);
            if (total_ != 0 && total_ == done) p.eta_seconds = 0;
        }
        options_.on_progress(p);
    }

    bool on_response(const HttpResponseHead& head) override {
        try {
            accept_response(head);
            return true;
        } catch (...) {
            failure_ = std::current_exception();
            return false;
        }
    }

    bool on_data(const char* data, size_t size) override {
        if (!writing_) return true;  // an error page: the status tells what happened
        try {
            part_.append(data, size);
        } catch (...) {
            failure_ = std::current_exception();
            return false;
        }
        hash_.update(data, size);
        received_ += size;
        meter_.add_sample(received_);
        report(DownloadPhase::Downloading, part_.size(), false);
        return !cancelled();
    }

    bool keep_going() override {
        if (writing_) {
            meter_.add_sample(received_);
            report(DownloadPhase::Downloading, part_.size(), false);
        }
        return !cancelled();
    }

private:
    void check_total(uint64_t server_total) {
        if (server_total == 0) return;
        if (source_.size != 0 && server_total != source_.size) {
            throw DownloadError(Kind::BadResponse,
                                fmt::format("the server has {} bytes for {} but {} were expected (did the file "
                                            "change since it was listed?)",
                                            server_total, source_.file_name, source_.size));
        }
        total_ = server_total;
    }

    void accept_response(const HttpResponseHead& head) {
        if (head.status == 206) {
            const ContentRange range = parse_content_range(head.header("content-range"));
            if (!range.valid || range.first != int64_t(offset_)) {
                throw DownloadError(Kind::BadResponse,
                                    fmt::format("asked {} for {} from byte {} but it answered Content-Range '{}'",
                                                head.effective_url, source_.file_name, offset_,
                                                head.header("content-range")));
            }
            check_total(range.total);
        } else if (head.status == 200) {
            if (offset_ > 0) {
                // The server ignored the Range request and sends the whole file: start over.
                log_warn("download: {} does not support resuming; fetching {} from the start", head.effective_url,
                         source_.file_name);
                part_.clear();
                hash_ = Sha256();
                offset_ = 0;
                resumed_from_ = 0;
            }
            const std::string length = head.header("content-length");
            if (!length.empty()) check_total(std::strtoull(length.c_str(), nullptr, 10));
        } else if (head.status == 416) {
            range_not_satisfiable_ = true;
            const ContentRange range = parse_content_range(head.header("content-range"));
            if (range.valid) check_total(range.total);
            return;
        } else {
            return;  // an error status, judged by the caller once the transfer ends
        }
        if (total_ > offset_) require_space(options_.dir, total_ - offset_, source_.file_name);
        writing_ = true;
        meter_.add_sample(received_);
    }

    const DownloadSource& source_;
    const DownloadOptions& options_;
    PartFile& part_;
    Sha256 hash_;
    RateMeter meter_;
    RateMeter::Clock::time_point last_report_{};
    uint64_t total_ = 0;
    uint64_t offset_ = 0;
    uint64_t received_ = 0;
    uint64_t resumed_from_ = 0;
    int attempt_ = 1;
    bool writing_ = false;
    bool range_not_satisfiable_ = false;
    std::exception_ptr failure_;
};

[[noreturn]] void throw_cancelled(const PartFile& part) {
    throw DownloadError(Kind::Cancelled,
                        fmt::format("download cancelled; {} keeps the {} received so far and the next download "
                                    "resumes from there",
                                    part.path().filename().string(), human_size(part.size())));
}

std::string token_or_env(const std::string& token) {
    if (!token.empty()) return token;
    const char* env = std::getenv("HF_TOKEN");
    return env ? env : "";
}

// The final file exists already: done when it is the expected one, without fetching anything.
std::optional<DownloadResult> already_present(const DownloadSource& source, const fs::path& final_path) {
    std::error_code ec;
    if (!fs::is_regular_file(final_path, ec)) return std::nullopt;
    const uint64_t size = fs::file_size(final_path, ec);
    if (ec) return std::nullopt;
    DownloadResult result;
    result.path = final_path;
    result.size = size;
    result.already_present = true;
    if (source.size != 0) {
        // Files only ever get this name after their hash matched, so the size is enough to recognise one.
        if (size != source.size) return std::nullopt;
        result.sha256 = lower(source.sha256);
        return result;
    }
    if (!source.sha256.empty() && sha256_hex_of_file(final_path) == lower(source.sha256)) {
        result.sha256 = lower(source.sha256);
        result.verified = true;
        return result;
    }
    return std::nullopt;
}

// Everything after the part file is open: resume, attempts, verification, rename.
DownloadResult fetch_into(const DownloadSource& source, const DownloadOptions& options, PartFile& part,
                          const fs::path& final_path) {
    std::error_code ec;
    if (source.size != 0 && part.size() > source.size) {
        log_warn("download: {} is larger than the file it is part of; starting over", part.path().string());
        part.clear();
    }
    Session session(source, options, part);
    session.set_resumed_from(part.size());
    if (part.size() > 0) {
        log_info("download: resuming {} at {} bytes", source.file_name, part.size());
        const bool hashed = part.hash_existing(session.hash(), [&](uint64_t done) {
            session.report(DownloadPhase::CheckingPart, done, false);
            return !session.cancelled();
        });
        if (!hashed) throw_cancelled(part);
    }
    if (source.size != 0 && source.size > part.size()) {
        require_space(options.dir, source.size - part.size(), source.file_name);
    }

    download::HttpSettings http;
    http.token = token_or_env(options.token);
    http.connect_timeout_s = options.connect_timeout_s;
    http.stall_timeout_s = options.stall_timeout_s;
    const int max_attempts = std::max(1, options.max_attempts);
    int delay_ms = options.retry_delay_ms;
    for (int attempt = 1;; ++attempt) {
        if (session.total() != 0 && part.size() == session.total()) break;  // nothing left to fetch
        if (session.cancelled()) throw_cancelled(part);
        session.begin_attempt(attempt, part.size());
        const download::TransferOutcome outcome = download::http_stream(source.url, part.size(), http, session);
        if (session.failure()) std::rethrow_exception(session.failure());
        if (session.cancelled()) throw_cancelled(part);

        const long status = outcome.head.status;
        std::string retry_reason;
        if (outcome.result == TransportResult::Complete && session.range_not_satisfiable()) {
            // The part file already holds everything the server has, or it is from another file.
            if (session.total() != 0 && session.total() == part.size()) break;
            log_warn("download: {} rejected resuming {} at byte {}; starting over", source.url, source.file_name,
                     part.size());
            part.clear();
            session.hash() = Sha256();
            session.set_resumed_from(0);
            retry_reason = "range not satisfiable";
        } else if (status >= 300 && status < 500 && status != 429) {
            download::throw_http_error(outcome.head, "file " + source.file_name, source.url);
        } else if (status == 429 || status >= 500) {
            retry_reason = fmt::format("HTTP {}", status);
        } else if (outcome.result == TransportResult::Complete) {
            if (session.total() == 0 || part.size() == session.total()) break;
            retry_reason = fmt::format("the server closed the connection after {} of {} bytes", part.size(),
                                       session.total());
        } else if (outcome.result == TransportResult::Dropped) {
            retry_reason = outcome.message;
        } else {
            throw DownloadError(Kind::Network,
                                fmt::format("cannot download {} from {}: {}", source.file_name, source.url,
                                            outcome.message.empty() ? "transfer aborted" : outcome.message));
        }
        if (attempt >= max_attempts) {
            if (status >= 400) download::throw_http_error(outcome.head, "file " + source.file_name, source.url);
            throw DownloadError(Kind::Network,
                                fmt::format("download of {} failed after {} attempt{} ({}); {} keeps {} of it, run "
                                            "the download again to resume",
                                            source.file_name, attempt, attempt == 1 ? "" : "s", retry_reason,
                                            part.path().filename().string(), human_size(part.size())));
        }
        log_warn("download: {} interrupted ({}); resuming from byte {} in {} ms", source.file_name, retry_reason,
                 part.size(), delay_ms);
        if (!pause_unless_cancelled(delay_ms, options.cancel)) throw_cancelled(part);
        delay_ms = std::min(delay_ms * 2, 30000);
    }

    const std::string digest = session.hash().hex_digest();
    if (!source.sha256.empty() && digest != lower(source.sha256)) {
        const uint64_t size = part.size();
        part.remove();
        throw DownloadError(Kind::HashMismatch,
                            fmt::format("{} is corrupt: its sha256 is {} but {} was expected ({} received); the "
                                        "downloaded data was deleted, download it again",
                                        source.file_name, digest, lower(source.sha256), human_size(size)));
    }
    if (source.sha256.empty()) {
        log_warn("download: no sha256 is known for {}; it was not verified (sha256 {})", source.file_name, digest);
    }
    session.report(DownloadPhase::Downloading, part.size(), true);
    part.sync();
    fs::rename(part.path(), final_path, ec);
    if (ec) {
        throw DownloadError(Kind::Filesystem, fmt::format("cannot rename {} to {}: {}", part.path().string(),
                                                          final_path.string(), ec.message()));
    }

    DownloadResult result;
    result.path = final_path;
    result.sha256 = digest;
    result.size = part.size();
    result.bytes_received = session.received();
    result.verified = !source.sha256.empty();
    return result;
}

}  // namespace

std::string sha256_hex(std::string_view bytes) { return download::sha256_hex(bytes); }

std::string sha256_hex_of_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw DownloadError(Kind::Filesystem, fmt::format("cannot read {}", path.string()));
    Sha256 hash;
    std::vector<char> buffer(size_t(1) << 20);
    while (in) {
        in.read(buffer.data(), std::streamsize(buffer.size()));
        hash.update(buffer.data(), size_t(in.gcount()));
    }
    if (in.bad()) throw DownloadError(Kind::Filesystem, fmt::format("error reading {}", path.string()));
    return hash.hex_digest();
}

DownloadResult download_file(const DownloadSource& source, const DownloadOptions& options) {
    validate_source(source);
    if (options.dir.empty()) throw DownloadError(Kind::Filesystem, "no target folder given for the download");
    std::error_code ec;
    fs::create_directories(options.dir, ec);
    if (ec) {
        throw DownloadError(Kind::Filesystem,
                            fmt::format("cannot create the folder {}: {}", options.dir.string(), ec.message()));
    }
    const fs::path final_path = options.dir / source.file_name;
    if (auto present = already_present(source, final_path)) {
        log_info("download: {} is already there", final_path.string());
        return *present;
    }

    PartFile part(fs::path(final_path).concat(".part"));
    try {
        return fetch_into(source, options, part, final_path);
    } catch (...) {
        // A part file that never got a byte is only clutter; one with bytes is kept for resuming.
        if (part.size() == 0) part.remove();
        throw;
    }
}

}  // namespace peregrine
