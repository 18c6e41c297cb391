// The libcurl layer of the downloader: one GET at a time, redirects followed, proxies from the
// environment, bodies either collected (small API documents) or streamed to a sink (model files).
// The rest of the downloader never sees a CURL handle.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace peregrine::download {

struct HttpSettings {
    std::string token;  // sent as "Authorization: Bearer" (libcurl drops it on a redirect to another host)
    long connect_timeout_s = 30;
    long stall_timeout_s = 60;  // below 1 byte/s for this long: the transfer fails as dropped
};

// Status and headers of the final response (after redirects); header names lower case.
struct HttpResponseHead {
    long status = 0;
    std::map<std::string, std::string> headers;
    std::string effective_url;
    std::string header(const std::string& lower_case_name) const;
};

// How a transfer ended, as far as the transport is concerned; the status is for the caller to judge.
enum class TransportResult {
    Complete,    // the whole response arrived
    Aborted,     // the sink said stop (cancel, wrong Content-Range, disk full)
    Dropped,     // the connection broke, stalled or timed out: worth retrying, resuming where it stopped
    Failed,      // not worth retrying (bad URL, unknown host, TLS failure)
};

struct TransferOutcome {
    TransportResult result = TransportResult::Failed;
    std::string message;  // libcurl's explanation when not Complete
    HttpResponseHead head;
};

// Receives a streamed response. on_response is called once, before the first body byte (or at the end
// for an empty body); returning false from any method aborts the transfer.
class BodySink {
public:
    virtual ~BodySink() = default;
    virtual bool on_response(const HttpResponseHead& head) = 0;
    virtual bool on_data(const char* data, size_t size) = 0;
    virtual bool keep_going() = 0;  // polled several times a second even while no bytes arrive
};

// GET url; with range_from > 0 asks for "Range: bytes=range_from-".
TransferOutcome http_stream(const std::string& url, uint64_t range_from, const HttpSettings& settings,
                            BodySink& sink);

struct HttpDocument {
    HttpResponseHead head;
    std::string body;
};

// GET a small document into memory (bodies over max_body bytes fail as BadResponse). Throws
// DownloadError{Network} when no response arrives; the caller judges the status.
HttpDocument http_get_document(const std::string& url, const HttpSettings& settings,
                               size_t max_body = size_t(64) << 20);

// "https://host/x?cursor=..." from a Link header's rel="next" entry; empty when there is none.
std::string next_page_link(std::string_view link_header);

// Turns an HTTP error status into a DownloadError whose message says what it means for `what`
// ("repository Qwen/X", "file model.gguf"), using the Hub's X-Error-Message when it sent one.
[[noreturn]] void throw_http_error(const HttpResponseHead& head, std::string_view what, std::string_view url);

}  // namespace peregrine::download
