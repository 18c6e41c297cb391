// `peregrine-cli pull`: download a GGUF model from Hugging Face (or any URL) with resume and a sha256
// check, showing progress on stderr and printing the verified path on stdout, so that
// `model=$(peregrine-cli pull Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M)` works in scripts.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>

#include "commands.h"
#include "peregrine/download.h"
#include "peregrine/model_catalog.h"

namespace peregrine::cli {
namespace {

struct PullOptions {
    std::string spec;  // REPO[:FILE] or an http(s) URL
    std::string dir;
    std::string endpoint;
    std::string revision = "main";
    std::string sha256;  // for URLs: the expected hash
    bool list = false;
    bool catalog = false;
};

std::atomic<bool> g_interrupted{false};

void on_sigint(int) { g_interrupted = true; }

std::string human_bytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{:.0f} {}", bytes, units[u]) : fmt::format("{:.1f} {}", bytes, units[u]);
}

std::string duration_text(double seconds) {
    if (seconds < 0) return "--:--";
    const long s = long(seconds + 0.5);
    return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60) : fmt::format("{}:{:02}", s / 60, s % 60);
}

// Progress on stderr: one line redrawn in place on a terminal; otherwise (a log, a pipe, a test) a new
// line at every tenth of the file, so logs stay short and still show that something happens.
class ProgressPrinter {
public:
    ProgressPrinter() : interactive_(::isatty(STDERR_FILENO) == 1) {}

    void update(const DownloadProgress& p) {
        if (p.phase == DownloadPhase::CheckingPart) {
            if (!announced_check_) {
                std::fprintf(stderr, "checking the %s downloaded before...\n", human_bytes(double(p.resumed_from)).c_str());
                announced_check_ = true;
            }
            return;
        }
        if (p.resumed_from > 0 && !announced_resume_) {
            std::fprintf(stderr, "resuming at %s\n", human_bytes(double(p.resumed_from)).c_str());
            announced_resume_ = true;
        }
        const int percent = p.bytes_total ? int(100.0 * double(p.bytes_done) / double(p.bytes_total)) : -1;
        const std::string line =
            fmt::format("{:>4}  {} / {}  {}/s  ETA {}", percent >= 0 ? fmt::format("{}%", percent) : "?",
                        human_bytes(double(p.bytes_done)), p.bytes_total ? human_bytes(double(p.bytes_total)) : "?",
                        p.bytes_per_second > 0 ? human_bytes(p.bytes_per_second) : "--", duration_text(p.eta_seconds));
        if (interactive_) {
            std::fprintf(stderr, "\r%-70s", line.c_str());
            if (percent == 100) std::fputc('\n', stderr);
        } else if (percent >= 0 ? percent / 10 > last_tenth_ : p.bytes_done >= next_unknown_mark_) {
            std::fprintf(stderr, "%s\n", line.c_str());
            last_tenth_ = percent / 10;
            next_unknown_mark_ = p.bytes_done + (uint64_t(64) << 20);
        }
        std::fflush(stderr);
    }

private:
    bool interactive_;
    bool announced_check_ = false;
    bool announced_resume_ = false;
    int last_tenth_ = -1;
    uint64_t next_unknown_mark_ = 0;
};

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

// The last path segment of a URL, without query or fragment.
std::string file_name_of_url(const std::string& url) {
    std::string path = url.substr(0, url.find_first_of("?#"));
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(slash + 1);
}

int list_files(const std::string& repo, const PullOptions& opt) {
    const std::vector<HubFile> files = list_hub_gguf_files(repo, opt.endpoint, opt.revision);
    if (files.empty()) {
        std::fprintf(stderr, "%s has no single-file GGUF models\n", repo.c_str());
        return 1;
    }
    std::printf("%-8s  %10s  %-12s  %s\n", "QUANT", "SIZE", "SHA256", "FILE");
    for (const HubFile& f : files) {
        std::printf("%-8s  %10s  %-12s  %s\n", f.quantization.empty() ? "-" : f.quantization.c_str(),
                    human_bytes(double(f.size)).c_str(), f.sha256.empty() ? "-" : f.sha256.substr(0, 12).c_str(),
                    f.path.c_str());
    }
    return 0;
}

ModelCatalog installed_catalog() {
    const std::filesystem::path path = find_model_catalog();
    if (path.empty()) {
        throw Error("the model catalogue (share/peregrine/catalog.json next to this program, or "
                    "$PEREGRINE_CATALOG) was not found");
    }
    return load_model_catalog(path);
}

// Memory the machine has free now (MemAvailable), for the catalogue's "fits" column.
uint64_t available_memory_bytes() {
    const long pages = ::sysconf(_SC_AVPHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page_size > 0 ? uint64_t(pages) * uint64_t(page_size) : 0;
}

int list_catalog() {
    const ModelCatalog catalog = installed_catalog();
    const uint64_t available = available_memory_bytes();
    const std::optional<CatalogChoice> pick = recommend_model(catalog, available);
    std::printf("%-26s  %-8s  %10s  %-9s  %s\n", "ID", "QUANT", "SIZE", "FITS", "NAME");
    for (const CatalogModel& m : catalog.models) {
        const CatalogFile& f = m.default_file();
        const bool fits = estimate_run_bytes(m, f, 4096) <= available;
        std::printf("%-26s  %-8s  %10s  %-9s  %s%s\n", m.id.c_str(), f.quantization.c_str(),
                    human_bytes(double(f.size)).c_str(), fits ? "yes" : "no", m.name.c_str(),
                    pick && pick->model == &m ? "  (recommended)" : "");
    }
    std::fflush(stdout);
    std::fprintf(stderr, "fits: 4096-token context in the %s of memory free now\n", human_bytes(double(available)).c_str());
    return 0;
}

int run(const PullOptions& opt) {
    if (opt.catalog) return list_catalog();
    if (opt.spec.empty()) throw InvalidRequestError("pull needs a model: REPO[:FILE], a catalogue id or a URL");
    DownloadSource source;
    if (is_url(opt.spec)) {
        if (opt.list) throw InvalidRequestError("--list needs a repository id, not a URL");
        source.url = opt.spec;
        source.file_name = file_name_of_url(opt.spec);
        source.sha256 = opt.sha256;
        std::transform(source.sha256.begin(), source.sha256.end(), source.sha256.begin(),
                       [](unsigned char c) { return char(std::tolower(c)); });
        std::fprintf(stderr, "pulling %s\n", opt.spec.c_str());
    } else {
        const size_t colon = opt.spec.find(':');
        std::string repo = opt.spec.substr(0, colon);
        std::string file = colon == std::string::npos ? std::string() : opt.spec.substr(colon + 1);
        if (repo.find('/') == std::string::npos) {
            // A catalogue id ("qwen2.5-1.5b-instruct[:Q8_0]"): its repository and file.
            const ModelCatalog catalog = installed_catalog();
            const CatalogModel* model = catalog.find(repo);
            if (!model) {
                throw InvalidRequestError(fmt::format("'{}' is neither a repository id (owner/name) nor a model of "
                                                      "the catalogue (peregrine-cli pull --catalog lists them)",
                                                      repo));
            }
            const CatalogFile* entry = file.empty() ? &model->default_file() : model->file_for(file);
            if (!entry) {
                throw InvalidRequestError(fmt::format("the catalogue has no {} file for {}", file, model->id));
            }
            repo = model->repo;
            file = entry->file;
        }
        if (opt.list) return list_files(repo, opt);
        source = resolve_hub_file({repo, file, opt.endpoint, opt.revision});
        std::string wanted_sha = opt.sha256;
        std::transform(wanted_sha.begin(), wanted_sha.end(), wanted_sha.begin(),
                       [](unsigned char c) { return char(std::tolower(c)); });
        if (!wanted_sha.empty() && wanted_sha != source.sha256) {
            throw InvalidRequestError(fmt::format("--sha256 {} differs from the sha256 the Hub lists for {}: {}",
                                                  opt.sha256, source.file_name, source.sha256));
        }
        const std::string quant = quantization_from_file_name(source.file_name);
        std::fprintf(stderr, "pulling %s from %s (%s%s%s)\n", source.file_name.c_str(), repo.c_str(),
                     quant.c_str(), quant.empty() ? "" : ", ", human_bytes(double(source.size)).c_str());
    }

    DownloadOptions options;
    options.dir = opt.dir.empty() ? default_models_dir() : std::filesystem::path(opt.dir);
    options.cancel = &g_interrupted;
    ProgressPrinter printer;
    options.on_progress = [&](const DownloadProgress& p) { printer.update(p); };

    struct sigaction action {}, previous {};
    action.sa_handler = on_sigint;
    sigaction(SIGINT, &action, &previous);
    DownloadResult result;
    try {
        result = download_file(source, options);
    } catch (const DownloadError& e) {
        sigaction(SIGINT, &previous, nullptr);
        if (e.kind() != DownloadError::Kind::Cancelled) throw;
        std::fprintf(stderr, "\n%s; run the same command to resume\n", e.what());
        return 130;
    }
    sigaction(SIGINT, &previous, nullptr);

    if (result.already_present) {
        std::fprintf(stderr, "already downloaded\n");
    } else if (result.verified) {
        std::fprintf(stderr, "verified sha256 %s\n", result.sha256.c_str());
    } else {
        std::fprintf(stderr, "not verified (no sha256 known; pass --sha256): sha256 is %s\n", result.sha256.c_str());
    }
    std::printf("%s\n", result.path.c_str());
    return 0;
}

}  // namespace

CommandRunner add_pull_command(CLI::App& app) {
    auto opt = std::make_shared<PullOptions>();
    auto* cmd = app.add_subcommand("pull", "Download a GGUF model from Hugging Face (resumable, sha256-verified)");
    cmd->add_option("model", opt->spec,
                    "REPO[:FILE] (FILE: a file name or a quantization such as Q4_K_M; default Q4_K_M), a catalogue "
                    "id[:QUANT], or a URL");
    cmd->add_option("-d,--dir", opt->dir, "Folder for the model (default: ~/.local/share/peregrine/models)");
    cmd->add_option("--endpoint", opt->endpoint,
                    "Hugging Face endpoint or mirror (default: $PEREGRINE_HF_ENDPOINT, $HF_ENDPOINT, huggingface.co)");
    cmd->add_option("--revision", opt->revision, "Branch, tag or commit of the repository")->capture_default_str();
    cmd->add_option("--sha256", opt->sha256, "Expected sha256 (for a URL; checked against the Hub's for a repository)");
    cmd->add_flag("--list", opt->list, "List the repository's GGUF files with quantization and size, download nothing");
    cmd->add_flag("--catalog", opt->catalog, "List the curated model catalogue and what fits this machine");
    return [opt] { return run(*opt); };
}

}  // namespace peregrine::cli
