// The Hugging Face Hub's model API: which GGUF files a repository has (tree API with LFS metadata: size
// and sha256), and the /resolve/ URL of a file. The same paths work on mirrors that implement the API.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <regex>

#include "download/http_transfer.h"
#include "peregrine/download.h"

namespace peregrine {
namespace {

using Kind = DownloadError::Kind;

constexpr const char* kDefaultEndpoint = "https://huggingface.co";
// A paginated listing never needs more pages than this; more means the server keeps answering "next".
constexpr int kMaxListingPages = 100;

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    return out;
}

bool ends_with_gguf(std::string_view path) {
    return path.size() > 5 && upper(path.substr(path.size() - 5)) == ".GGUF";
}

std::string_view base_name(std::string_view path) {
    const size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Files that are GGUF but not a whole model the engine can load on its own.
bool is_loadable_model_file(std::string_view path) {
    static const std::regex split_part(R"(-\d{5}-of-\d{5}\.gguf$)", std::regex::icase);
    const std::string name(base_name(path));
    if (std::regex_search(name, split_part)) return false;
    return upper(name).rfind("MMPROJ", 0) != 0;  // vision projectors of multimodal models
}

bool is_sha256_hex(const std::string& s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
           });
}

// Percent-encodes everything outside RFC 3986's unreserved set; '/' too unless keep_slash.
std::string percent_encode(std::string_view s, bool keep_slash) {
    std::string out;
    for (const unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            out += char(c);
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

void validate_repo_id(const std::string& repo) {
    static const std::regex pattern(R"([A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)");
    if (!std::regex_match(repo, pattern)) {
        throw DownloadError(Kind::NotFound,
                            fmt::format("'{}' is not a Hugging Face repository id (expected owner/name, e.g. "
                                        "Qwen/Qwen2.5-0.5B-Instruct-GGUF)",
                                        repo));
    }
}

std::string size_text(uint64_t bytes) {
    return bytes >= (uint64_t(1) << 30) ? fmt::format("{:.1f} GiB", double(bytes) / double(uint64_t(1) << 30))
                                        : fmt::format("{:.0f} MiB", double(bytes) / double(1 << 20));
}

std::string describe_files(const std::vector<HubFile>& files) {
    if (files.empty()) return "no GGUF files";
    std::string out;
    for (const HubFile& f : files) {
        if (!out.empty()) out += ", ";
        out += fmt::format("{} ({}{}{})", f.path, f.quantization, f.quantization.empty() ? "" : ", ", size_text(f.size));
    }
    return out;
}

void parse_tree_page(const std::string& body, const std::string& url, std::vector<HubFile>& out) {
    nlohmann::json page;
    try {
        page = nlohmann::json::parse(body);
    } catch (const nlohmann::json::exception& e) {
        throw DownloadError(Kind::BadResponse, fmt::format("{}: the file listing is not JSON: {}", url, e.what()));
    }
    if (!page.is_array()) {
        throw DownloadError(Kind::BadResponse, fmt::format("{}: the file listing is not a JSON array", url));
    }
    for (const auto& entry : page) {
        if (!entry.is_object() || entry.value("type", "") != "file") continue;
        const auto path = entry.find("path");
        if (path == entry.end() || !path->is_string()) continue;
        const std::string p = path->get<std::string>();
        if (!ends_with_gguf(p) || !is_loadable_model_file(p)) continue;
        HubFile file;
        file.path = p;
        file.quantization = quantization_from_file_name(base_name(p));
        const auto size = entry.find("size");
        if (size != entry.end() && size->is_number_unsigned()) file.size = size->get<uint64_t>();
        // For LFS files the git oid is of the pointer; lfs.oid is the sha256 of the content itself.
        const auto lfs = entry.find("lfs");
        if (lfs != entry.end() && lfs->is_object()) {
            const auto oid = lfs->find("oid");
            if (oid != lfs->end() && oid->is_string() && is_sha256_hex(oid->get<std::string>())) {
                file.sha256 = oid->get<std::string>();
            }
            const auto lfs_size = lfs->find("size");
            if (lfs_size != lfs->end() && lfs_size->is_number_unsigned()) file.size = lfs_size->get<uint64_t>();
        }
        out.push_back(std::move(file));
    }
}

}  // namespace

std::string hf_endpoint(std::string_view configured) {
    std::string endpoint(configured);
    for (const char* var : {"PEREGRINE_HF_ENDPOINT", "HF_ENDPOINT"}) {
        if (!endpoint.empty()) break;
        if (const char* value = std::getenv(var)) endpoint = value;
    }
    if (endpoint.empty()) endpoint = kDefaultEndpoint;
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    return endpoint;
}

std::string quantization_from_file_name(std::string_view file_name) {
    std::string stem = upper(base_name(file_name));
    if (ends_with_gguf(stem)) stem.resize(stem.size() - 5);
    // Quantization names as llama.cpp's quantize tool writes them, between separators.
    static const std::regex pattern(
        R"((?:^|[-._])(IQ[1-4]_(?:XXS|XS|NL|S|M)|Q[2-8]_K(?:_(?:XL|S|M|L))?|Q[4-8]_[01]|TQ[12]_0|MXFP4|BF16|FP16|F16|FP32|F32)(?=$|[-._]))");
    std::string found;
    for (auto it = std::sregex_iterator(stem.begin(), stem.end(), pattern); it != std::sregex_iterator(); ++it) {
        found = (*it)[1].str();  // the last one: names end with the quantization
    }
    if (found == "FP16") return "F16";
    if (found == "FP32") return "F32";
    return found;
}

std::vector<HubFile> list_hub_gguf_files(const std::string& repo, std::string_view endpoint,
                                         const std::string& revision, const std::string& token) {
    validate_repo_id(repo);
    download::HttpSettings http;
    http.token = token.empty() && std::getenv("HF_TOKEN") ? std::getenv("HF_TOKEN") : token;
    std::string url = fmt::format("{}/api/models/{}/tree/{}?recursive=true", hf_endpoint(endpoint), repo,
                                  percent_encode(revision, false));
    std::vector<HubFile> files;
    for (int page = 0; !url.empty(); ++page) {
        if (page == kMaxListingPages) {
            throw DownloadError(Kind::BadResponse,
                                fmt::format("the file listing of {} has more than {} pages", repo, kMaxListingPages));
        }
        const download::HttpDocument doc = download::http_get_document(url, http);
        if (doc.head.status != 200) {
            download::throw_http_error(doc.head, fmt::format("repository {} (revision {})", repo, revision), url);
        }
        parse_tree_page(doc.body, url, files);
        url = download::next_page_link(doc.head.header("link"));
    }
    std::sort(files.begin(), files.end(), [](const HubFile& a, const HubFile& b) { return a.path < b.path; });
    return files;
}

const HubFile& choose_hub_file(const std::vector<HubFile>& files, std::string_view wanted,
                               std::string_view repo_for_messages) {
    const std::string repo = repo_for_messages.empty() ? std::string("the repository") : std::string(repo_for_messages);
    if (files.empty()) throw DownloadError(Kind::NotFound, fmt::format("{} has no single-file GGUF models", repo));
    if (wanted.empty()) {
        const auto q4 = std::find_if(files.begin(), files.end(), [](const HubFile& f) { return f.quantization == "Q4_K_M"; });
        return q4 != files.end() ? *q4 : files.front();
    }
    if (ends_with_gguf(wanted)) {
        for (const HubFile& f : files) {
            if (f.path == wanted) return f;
        }
        for (const HubFile& f : files) {
            if (base_name(f.path) == wanted) return f;
        }
    } else {
        const std::string quant = upper(wanted);
        for (const HubFile& f : files) {
            if (f.quantization == quant) return f;
        }
    }
    throw DownloadError(Kind::NotFound,
                        fmt::format("{} has no GGUF file matching '{}'; it has: {}", repo, wanted, describe_files(files)));
}

std::string hub_file_url(const HubFileRef& ref) {
    return fmt::format("{}/{}/resolve/{}/{}", hf_endpoint(ref.endpoint), ref.repo, percent_encode(ref.revision, false),
                       percent_encode(ref.file, true));
}

DownloadSource resolve_hub_file(const HubFileRef& ref, const std::string& token) {
    const std::vector<HubFile> files = list_hub_gguf_files(ref.repo, ref.endpoint, ref.revision, token);
    const HubFile& file = choose_hub_file(files, ref.file, ref.repo);
    DownloadSource source;
    source.url = hub_file_url({ref.repo, file.path, ref.endpoint, ref.revision});
    source.file_name = std::string(base_name(file.path));
    source.sha256 = file.sha256;
    source.size = file.size;
    return source;
}

std::filesystem::path default_models_dir() {
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && xdg[0] == '/') {
        return std::filesystem::path(xdg) / "peregrine" / "models";
    }
    if (const char* home = std::getenv("HOME"); home && home[0] != '\0') {
        return std::filesystem::path(home) / ".local" / "share" / "peregrine" / "models";
    }
    return std::filesystem::current_path() / "models";
}

}  // namespace peregrine
