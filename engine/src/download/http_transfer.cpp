#include "download/http_transfer.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include "peregrine/download.h"

#ifndef PEREGRINE_VERSION
#define PEREGRINE_VERSION "dev"
#endif

namespace peregrine::download {
namespace {

// curl_global_init is not thread-safe and must run before any handle exists.
void ensure_curl_initialised() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// State shared with libcurl's C callbacks for one transfer.
struct Transfer {
    CURL* curl = nullptr;
    HttpResponseHead head;  // headers of the response being received (reset at each status line)
    BodySink* sink = nullptr;
    bool response_announced = false;
    bool sink_aborted = false;

    long current_status() const {
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        return status;
    }

    bool announce_response() {
        if (response_announced) return true;
        response_announced = true;
        head.status = current_status();
        char* url = nullptr;
        if (curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url) head.effective_url = url;
        return sink->on_response(head);
    }
};

size_t on_header_line(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string_view line(data, size * count);
    if (line.rfind("HTTP/", 0) == 0) {
        t->head.headers.clear();  // a new response (after a redirect or a 100 Continue)
    } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
        t->head.headers[lower(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
    }
    return size * count;
}

size_t on_body_bytes(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    const long status = t->current_status();
    // The body of a redirect that libcurl is following is not the file.
    if (status >= 300 && status < 400 && !t->head.header("location").empty()) return n;
    if (!t->announce_response() || !t->sink->on_data(data, n)) {
        t->sink_aborted = true;
        return CURL_WRITEFUNC_ERROR;
    }
    return n;
}

int on_tick(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (t->sink->keep_going()) return 0;
    t->sink_aborted = true;
    return 1;
}

TransportResult classify(CURLcode code) {
    switch (code) {
        case CURLE_OK:
            return TransportResult::Complete;
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_COULDNT_CONNECT:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR:
            return TransportResult::Dropped;
        default:
            return TransportResult::Failed;
    }
}

std::unique_ptr<CURL, CurlDeleter> make_handle(const std::string& url, const HttpSettings& settings,
                                               std::unique_ptr<curl_slist, SlistDeleter>& headers) {
    ensure_curl_initialised();
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) throw DownloadError(DownloadError::Kind::Network, "libcurl could not create a transfer handle");
    CURL* h = curl.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // worker threads; no SIGALRM for DNS timeouts
    curl_easy_setopt(h, CURLOPT_USERAGENT, "peregrine/" PEREGRINE_VERSION);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, settings.connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, settings.stall_timeout_s);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    // Model files are already compressed as far as they go; asking for identity keeps byte offsets
    // (Range, Content-Length) about the file itself.
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, nullptr);
    if (!settings.token.empty()) {
        const std::string auth = "Authorization: Bearer " + settings.token;
        headers.reset(curl_slist_append(nullptr, auth.c_str()));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    }
    return curl;
}

class DocumentSink : public BodySink {
public:
    explicit DocumentSink(size_t max_body) : max_body_(max_body) {}
    bool on_response(const HttpResponseHead&) override { return true; }
    bool on_data(const char* data, size_t size) override {
        if (body.size() + size > max_body_) {
            too_large = true;
            return false;
        }
        body.append(data, size);
        return true;
    }
    bool keep_going() override { return true; }

    std::string body;
    bool too_large = false;

private:
    size_t max_body_;
};

}  // namespace

std::string HttpResponseHead::header(const std::string& lower_case_name) const {
    const auto it = headers.find(lower_case_name);
    return it == headers.end() ? std::string() : it->second;
}

TransferOutcome http_stream(const std::string& url, uint64_t range_from, const HttpSettings& settings,
                            BodySink& sink) {
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    auto curl = make_handle(url, settings, headers);
    Transfer t;
    t.curl = curl.get();
    t.sink = &sink;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    const std::string range = fmt::format("{}-", range_from);
    if (range_from > 0) curl_easy_setopt(t.curl, CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(t.curl, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(t.curl, CURLOPT_HEADERFUNCTION, on_header_line);
    curl_easy_setopt(t.curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(t.curl, CURLOPT_WRITEFUNCTION, on_body_bytes);
    curl_easy_setopt(t.curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(t.curl, CURLOPT_XFERINFOFUNCTION, on_tick);
    curl_easy_setopt(t.curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(t.curl, CURLOPT_NOPROGRESS, 0L);

    const CURLcode code = curl_easy_perform(t.curl);
    TransferOutcome outcome;
    if (t.sink_aborted) {
        outcome.result = TransportResult::Aborted;
    } else {
        outcome.result = classify(code);
        if (code == CURLE_OK && !t.announce_response()) outcome.result = TransportResult::Aborted;
    }
    if (code != CURLE_OK) outcome.message = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
    if (!t.response_announced) t.head.status = t.current_status();
    outcome.head = t.head;
    return outcome;
}

HttpDocument http_get_document(const std::string& url, const HttpSettings& settings, size_t max_body) {
    DocumentSink sink(max_body);
    TransferOutcome outcome = http_stream(url, 0, settings, sink);
    if (sink.too_large) {
        throw DownloadError(DownloadError::Kind::BadResponse,
                            fmt::format("{}: the response is larger than {} bytes; not an API document", url, max_body));
    }
    if (outcome.result != TransportResult::Complete) {
        throw DownloadError(DownloadError::Kind::Network, fmt::format("cannot fetch {}: {}", url, outcome.message));
    }
    return {std::move(outcome.head), std::move(sink.body)};
}

std::string next_page_link(std::string_view link_header) {
    // Link: <url1>; rel="next", <url2>; rel="last"
    size_t pos = 0;
    while ((pos = link_header.find('<', pos)) != std::string_view::npos) {
        const size_t close = link_header.find('>', pos);
        if (close == std::string_view::npos) return {};
        const size_t next_entry = link_header.find('<', close);
        const std::string_view params = link_header.substr(close + 1, next_entry - close - 1);
        if (params.find("rel=\"next\"") != std::string_view::npos || params.find("rel=next") != std::string_view::npos) {
            return std::string(link_header.substr(pos + 1, close - pos - 1));
        }
        pos = close;
    }
    return {};
}

void throw_http_error(const HttpResponseHead& head, std::string_view what, std::string_view url) {
    const std::string hub_message = head.header("x-error-message");
    const std::string detail = hub_message.empty() ? std::string() : fmt::format(" (server: {})", hub_message);
    switch (head.status) {
        case 404:
            throw DownloadError(DownloadError::Kind::NotFound,
                                fmt::format("{} not found (HTTP 404 from {}){}: check the spelling; private "
                                            "repositories also answer 404 without a token (set HF_TOKEN)",
                                            what, url, detail),
                                head.status);
        case 401:
        case 403:
            throw DownloadError(DownloadError::Kind::AccessDenied,
                                fmt::format("access to {} denied (HTTP {} from {}){}: the repository is gated or "
                                            "private; accept its licence on the Hub and set HF_TOKEN",
                                            what, head.status, url, detail),
                                head.status);
        default:
            throw DownloadError(DownloadError::Kind::Http,
                                fmt::format("{}: HTTP {} from {}{}", what, head.status, url, detail), head.status);
    }
}

}  // namespace peregrine::download
