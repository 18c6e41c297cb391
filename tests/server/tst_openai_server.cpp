// The OpenAI-compatible server over a real loopback socket (a free port picked by the OS) with real
// HTTP clients: cpp-httplib's client, and curl sending what an OpenAI SDK sends. The model is the
// trained tiny stories260K (f32), so greedy answers can be compared with generate() run alone.
#include <QtTest>

#include <httplib.h>

#include <QProcess>
#include <atomic>
#include <map>
#include <thread>

#include "../engine/grammar/schema_validator.h"
#include "peregrine/context.h"
#include "peregrine/generation.h"
#include "server/openai_server.h"
#include "support/test_paths.h"

using namespace peregrine;
using namespace peregrine::server;
using nlohmann::json;

namespace {

constexpr int kCtx = 256;
const char* kKey = "sk-test-0123456789";

struct Event {
    std::string data;  // the text after "data: "
};

// Splits a server-sent-event body into its events, checking the framing on the way: every event is
// "data: ...\n\n" (comment lines ": ..." are allowed and skipped).
std::vector<Event> parse_sse(const std::string& body, bool* well_formed) {
    std::vector<Event> events;
    *well_formed = true;
    size_t at = 0;
    while (at < body.size()) {
        const size_t end = body.find("\n\n", at);
        if (end == std::string::npos) {
            *well_formed = false;
            break;
        }
        const std::string block = body.substr(at, end - at);
        at = end + 2;
        if (block.rfind(":", 0) == 0) continue;
        if (block.rfind("data: ", 0) != 0 || block.find('\n') != std::string::npos) *well_formed = false;
        events.push_back({block.substr(6)});
    }
    return events;
}

const char* kPersonSchema = R"({"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 10},
    "age": {"type": "integer"},
    "mood": {"enum": ["happy", "sad", "sleepy"]},
    "friends": {"type": "array", "items": {"type": "string", "maxLength": 6}, "maxItems": 3}},
  "required": ["name", "age", "mood"]})";

const char* kShapesSchema = R"({"type": "object", "properties": {
    "shapes": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"$ref": "#/$defs/shape"}}},
  "required": ["shapes"],
  "$defs": {"shape": {"type": "object", "properties": {
    "kind": {"enum": ["circle", "square"]},
    "size": {"anyOf": [{"type": "number"}, {"type": "null"}]},
    "label": {"type": "string", "maxLength": 8}},
   "required": ["kind", "size"]}}})";

// The text of every choice of a response, streamed (SSE) or whole; "" when the response is malformed.
std::map<int, std::string> choice_texts(const std::string& body, bool stream, bool chat, bool* ok) {
    std::map<int, std::string> texts;
    *ok = true;
    const auto text_of = [&](const json& choice) {
        if (!chat) return choice["text"].get<std::string>();
        const json& part = stream ? choice["delta"] : choice["message"];
        return part.contains("content") ? part["content"].get<std::string>() : std::string();
    };
    if (!stream) {
        const json whole = json::parse(body);
        for (const json& c : whole["choices"]) texts[c["index"].get<int>()] += text_of(c);
        return texts;
    }
    const std::vector<Event> events = parse_sse(body, ok);
    if (events.empty() || events.back().data != "[DONE]") *ok = false;
    for (size_t i = 0; i + 1 < events.size(); ++i) {
        const json chunk = json::parse(events[i].data);
        for (const json& c : chunk["choices"]) texts[c["index"].get<int>()] += text_of(c);
    }
    return texts;
}

}  // namespace

class TestOpenAiServer : public QObject {
    Q_OBJECT

private:
    LoadedModel loaded_;
    std::unique_ptr<OpenAiServer> server_;
    int port_ = 0;
    std::atomic<int> step_delay_us_{0};

    std::unique_ptr<httplib::Client> client(const std::string& key = kKey) const {
        auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
        if (!key.empty()) c->set_bearer_token_auth(key.c_str());
        c->set_read_timeout(120, 0);
        c->set_connection_timeout(60, 0);
        return c;
    }

    httplib::Result post(const std::string& path, const json& body, const std::string& key = kKey) const {
        return client(key)->Post(path.c_str(), body.dump(), "application/json");
    }

    json health() const {
        const auto res = client("")->Get("/health");
        if (!res || res->status != 200) return json::object();
        return json::parse(res->body);
    }

    std::string generate_alone(const std::vector<int32_t>& prompt, int n, float temperature = 0, uint64_t seed = 0,
                               std::vector<std::string> stop = {}) const {
        ContextParams cp;
        cp.n_ctx = kCtx;
        cp.n_threads = 1;
        cp.n_seq_max = 1;
        Context ctx(loaded_.model, cp);
        GenerationParams gp;
        gp.n_predict = n;
        gp.sampling.temperature = temperature;
        gp.sampling.top_k = 0;  // the server's OpenAI semantics: temperature and top_p only
        gp.sampling.top_p = 1;
        gp.sampling.min_p = 0;
        gp.sampling.seed = seed;
        gp.stop_strings = std::move(stop);
        return generate(ctx, *loaded_.vocab, prompt, gp).text;
    }

    static void verify_error(const httplib::Result& res, int status, const std::string& param = {},
                             const std::string& code = {}) {
        QVERIFY(res);
        QCOMPARE(res->status, status);
        QVERIFY(res->get_header_value("Content-Type").rfind("application/json", 0) == 0);
        const json body = json::parse(res->body);
        QVERIFY(body["error"]["message"].is_string());
        QVERIFY(!body["error"]["message"].get<std::string>().empty());
        QVERIFY(body["error"]["type"].is_string());
        if (!param.empty()) QCOMPARE(body["error"]["param"].get<std::string>(), param);
        if (!code.empty()) QCOMPARE(body["error"]["code"].get<std::string>(), code);
    }

    // Waits until the engine is idle and returns /health then.
    json wait_idle() const {
        json h;
        for (int i = 0; i < 500; ++i) {
            h = health();
            if (h.value("running", -1) == 0 && h.value("waiting", -1) == 0) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return h;
    }

private slots:
    void initTestCase() {
        loaded_ = LoadedModel::load(test::model_path("stories260K-f32.gguf"));
        EngineParams ep;
        ep.context.n_ctx = kCtx;
        ep.context.n_threads = 1;
        ep.context.n_seq_max = 8;
        ep.max_batch_tokens = 256;
        // Lets a test slow the engine down, so a generation is surely still running when it acts.
        ep.on_step = [this](const StepStats&) {
            if (const int us = step_delay_us_.load()) std::this_thread::sleep_for(std::chrono::microseconds(us));
        };
        ServerOptions so;
        so.port = 0;
        so.api_key = kKey;
        so.limits.max_body_bytes = 64 * 1024;
        so.limits.max_tokens = 200;
        server_ = std::make_unique<OpenAiServer>(loaded_, ep, so);
        port_ = server_->start();
        QVERIFY(port_ > 0);
    }

    void cleanupTestCase() {
        server_->stop();
        QVERIFY(!server_->running());
    }

    void health_needs_no_key_and_models_lists_the_model() {
        const json h = health();
        QCOMPARE(h["status"].get<std::string>(), std::string("ok"));
        QCOMPARE(h["max_sequences"].get<int>(), 8);
        const auto res = client()->Get("/v1/models");
        QVERIFY(res);
        QCOMPARE(res->status, 200);
        const json models = json::parse(res->body);
        QCOMPARE(models["object"].get<std::string>(), std::string("list"));
        QCOMPARE(models["data"][0]["id"].get<std::string>(), std::string("stories260K-f32"));
    }

    void chat_without_streaming() {
        const std::vector<ChatMessage> messages = {{"system", "You tell stories."}, {"user", "A story about a cat."}};
        const json body = {{"model", "stories260K-f32"},
                           {"messages", {{{"role", "system"}, {"content", "You tell stories."}},
                                         {{"role", "user"}, {"content", "A story about a cat."}}}},
                           {"max_tokens", 24},
                           {"temperature", 0}};
        const auto res = post("/v1/chat/completions", body);
        QVERIFY(res);
        QCOMPARE(res->status, 200);
        const json r = json::parse(res->body);
        QCOMPARE(r["object"].get<std::string>(), std::string("chat.completion"));
        QVERIFY(r["id"].get<std::string>().rfind("chatcmpl-", 0) == 0);
        QCOMPARE(r["choices"].size(), size_t(1));
        QCOMPARE(r["choices"][0]["message"]["role"].get<std::string>(), std::string("assistant"));
        QCOMPARE(r["choices"][0]["finish_reason"].get<std::string>(), std::string("length"));
        const std::vector<int32_t> prompt = loaded_.tokenize_chat(messages);
        QCOMPARE(r["choices"][0]["message"]["content"].get<std::string>(), generate_alone(prompt, 24));
        QCOMPARE(r["usage"]["prompt_tokens"].get<int>(), int(prompt.size()));
        QCOMPARE(r["usage"]["completion_tokens"].get<int>(), 24);
        QCOMPARE(r["usage"]["total_tokens"].get<int>(), int(prompt.size()) + 24);
    }

    void chat_streaming_as_server_sent_events() {
        const json body = {{"messages", {{{"role", "user"}, {"content", "A story about a dog."}}}},
                           {"max_tokens", 16},
                           {"temperature", 0},
                           {"stream", true},
                           {"stream_options", {{"include_usage", true}}}};
        const auto res = post("/v1/chat/completions", body);
        QVERIFY(res);
        QCOMPARE(res->status, 200);
        QVERIFY(res->get_header_value("Content-Type").rfind("text/event-stream", 0) == 0);
        bool well_formed = false;
        const std::vector<Event> events = parse_sse(res->body, &well_formed);
        QVERIFY(well_formed);
        QVERIFY(events.size() >= 4);
        QCOMPARE(events.back().data, std::string("[DONE]"));
        std::string content;
        std::string id;
        int finishes = 0;
        for (size_t i = 0; i + 1 < events.size(); ++i) {
            const json chunk = json::parse(events[i].data);
            QCOMPARE(chunk["object"].get<std::string>(), std::string("chat.completion.chunk"));
            if (id.empty()) id = chunk["id"].get<std::string>();
            QCOMPARE(chunk["id"].get<std::string>(), id);  // one id for the whole stream
            if (chunk.contains("usage")) {
                QCOMPARE(i + 2, events.size());  // the usage chunk comes last, before [DONE]
                QCOMPARE(chunk["usage"]["completion_tokens"].get<int>(), 16);
                continue;
            }
            const json& choice = chunk["choices"][0];
            if (i == 0) QCOMPARE(choice["delta"]["role"].get<std::string>(), std::string("assistant"));
            if (choice["delta"].contains("content")) content += choice["delta"]["content"].get<std::string>();
            if (!choice["finish_reason"].is_null()) ++finishes;
        }
        QCOMPARE(finishes, 1);
        const std::vector<int32_t> prompt = loaded_.tokenize_chat({{"user", "A story about a dog."}});
        QCOMPARE(content, generate_alone(prompt, 16));
    }

    void n_samples_follow_their_seeds() {
        const json body = {{"prompt", "Once upon a time"}, {"max_tokens", 20}, {"temperature", 0.9},
                           {"seed", 5}, {"n", 2}};
        const auto res = post("/v1/completions", body);
        QVERIFY(res);
        QCOMPARE(res->status, 200);
        const json r = json::parse(res->body);
        QCOMPARE(r["object"].get<std::string>(), std::string("text_completion"));
        QCOMPARE(r["choices"].size(), size_t(2));
        const std::vector<int32_t> prompt = loaded_.tokenize_prompt("Once upon a time");
        for (int i = 0; i < 2; ++i) {
            QCOMPARE(r["choices"][i]["index"].get<int>(), i);
            QCOMPARE(r["choices"][i]["text"].get<std::string>(), generate_alone(prompt, 20, 0.9f, 5 + uint64_t(i)));
        }
        QVERIFY(r["choices"][0]["text"] != r["choices"][1]["text"]);
        QCOMPARE(r["usage"]["completion_tokens"].get<int>(), 40);
        QCOMPARE(r["usage"]["prompt_tokens"].get<int>(), int(prompt.size()));
    }

    void stop_strings_end_the_text_before_them() {
        const json body = {{"prompt", "Once upon a time"}, {"max_tokens", 60}, {"temperature", 0},
                           {"stop", {"Lily", "never there"}}};
        const auto res = post("/v1/completions", body);
        QVERIFY(res);
        QCOMPARE(res->status, 200);
        const json r = json::parse(res->body);
        QCOMPARE(r["choices"][0]["finish_reason"].get<std::string>(), std::string("stop"));
        QCOMPARE(r["choices"][0]["text"].get<std::string>(), std::string(", there was a little girl named "));
        // Streamed, the stop string never appears either.
        json streamed = body;
        streamed["stream"] = true;
        streamed["stop"] = "Lily";
        const auto sres = post("/v1/completions", streamed);
        bool well_formed = false;
        std::string text;
        for (const Event& e : parse_sse(sres->body, &well_formed)) {
            if (e.data != "[DONE]") text += json::parse(e.data)["choices"][0]["text"].get<std::string>();
        }
        QVERIFY(well_formed);
        QCOMPARE(text, std::string(", there was a little girl named "));
    }

    void malformed_requests_get_openai_errors() {
        auto c = client();
        verify_error(c->Post("/v1/chat/completions", "{\"messages\": [", "application/json"), 400);
        verify_error(c->Post("/v1/chat/completions", "[1, 2]", "application/json"), 400);
        verify_error(post("/v1/chat/completions", {{"max_tokens", 5}}), 400, "messages");
        verify_error(post("/v1/chat/completions", {{"messages", json::array()}}), 400, "messages");
        verify_error(post("/v1/chat/completions", {{"messages", {{{"content", "no role"}}}}}), 400);
        const json ok_messages = {{{"role", "user"}, {"content", "hi"}}};
        verify_error(post("/v1/chat/completions", {{"messages", ok_messages}, {"max_tokens", "ten"}}), 400, "max_tokens");
        verify_error(post("/v1/chat/completions", {{"messages", ok_messages}, {"max_tokens", 100000}}), 400, "max_tokens");
        verify_error(post("/v1/chat/completions", {{"messages", ok_messages}, {"temperature", 7}}), 400, "temperature");
        verify_error(post("/v1/chat/completions", {{"messages", ok_messages}, {"n", 99}}), 400, "n");
        verify_error(post("/v1/chat/completions", {{"messages", ok_messages}, {"stop", {1, 2}}}), 400, "stop");
        verify_error(post("/v1/completions", {{"prompt", {"one", "two"}}}), 400, "prompt");
        verify_error(post("/v1/completions", {{"prompt", {1, 99999}}}), 400, "prompt");
        std::string long_prompt;
        for (int i = 0; i < 400; ++i) long_prompt += " word";
        verify_error(post("/v1/completions", {{"prompt", long_prompt}}), 400, "prompt", "context_length_exceeded");
        verify_error(c->Get("/v1/nothing-here"), 404, {}, "unknown_url");
    }

    void unknown_model_is_404() {
        const json body = {{"model", "gpt-4o"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
        verify_error(post("/v1/chat/completions", body), 404, "model", "model_not_found");
    }

    void oversized_body_is_413() {
        const json body = {{"prompt", std::string(100 * 1024, 'a')}, {"max_tokens", 1}};
        verify_error(post("/v1/completions", body), 413, {}, "request_too_large");
    }

    void wrong_or_missing_api_key_is_401() {
        const json body = {{"prompt", "Once"}, {"max_tokens", 2}};
        verify_error(post("/v1/completions", body, "sk-wrong-key-0000000"), 401, {}, "invalid_api_key");
        verify_error(post("/v1/completions", body, ""), 401, {}, "invalid_api_key");
        verify_error(client("")->Get("/v1/models"), 401, {}, "invalid_api_key");
    }

    // What the OpenAI Python SDK puts on the wire, sent by curl -N (no buffering), read as raw bytes.
    void curl_speaks_the_protocol_like_an_sdk() {
        const std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/v1/chat/completions";
        const json body = {{"model", "stories260K-f32"},
                           {"messages", {{{"role", "user"}, {"content", "Tell me about a bird."}}}},
                           {"max_tokens", 12},
                           {"temperature", 0},
                           {"stream", true}};
        QProcess curl;
        curl.start("curl", {"-sS", "-N", "-D", "-", "-X", "POST", QString::fromStdString(url), "-H",
                            QString("Authorization: Bearer %1").arg(kKey), "-H", "Content-Type: application/json",
                            "-H", "Accept: application/json", "-H", "User-Agent: OpenAI/Python 1.54.0", "-H",
                            "X-Stainless-Lang: python", "--data-binary", QString::fromStdString(body.dump())});
        QVERIFY(curl.waitForFinished(60000));
        QCOMPARE(curl.exitCode(), 0);
        const std::string out = curl.readAllStandardOutput().toStdString();
        const size_t header_end = out.find("\r\n\r\n");
        QVERIFY(header_end != std::string::npos);
        const std::string headers = out.substr(0, header_end);
        QVERIFY(headers.rfind("HTTP/1.1 200", 0) == 0);
        QVERIFY(headers.find("Content-Type: text/event-stream") != std::string::npos);
        const std::string stream = out.substr(header_end + 4);
        bool well_formed = false;
        const std::vector<Event> events = parse_sse(stream, &well_formed);
        QVERIFY(well_formed);
        QCOMPARE(events.back().data, std::string("[DONE]"));
        QVERIFY(stream.size() >= 14 && stream.compare(stream.size() - 14, 14, "data: [DONE]\n\n") == 0);
        std::string content;
        for (size_t i = 0; i + 1 < events.size(); ++i) {
            const json chunk = json::parse(events[i].data);
            const json& delta = chunk["choices"][0]["delta"];
            if (delta.contains("content")) content += delta["content"].get<std::string>();
        }
        QCOMPARE(content, generate_alone(loaded_.tokenize_chat({{"user", "Tell me about a bird."}}), 12));
    }

    // json_schema on both endpoints, streamed and whole, sampled over seeds (n = 2): every answer parses
    // and validates against its schema, and ends with finish_reason "stop" (the grammar was completed).
    void response_format_json_schema_validates_data() {
        QTest::addColumn<bool>("chat");
        QTest::addColumn<bool>("stream");
        QTest::addColumn<int>("schema");
        for (bool chat : {false, true}) {
            for (bool stream : {false, true}) {
                for (int schema : {0, 1}) {
                    QTest::addRow("%s/%s/schema %d", chat ? "chat" : "completions", stream ? "streamed" : "whole",
                                  schema)
                        << chat << stream << schema;
                }
            }
        }
    }
    void response_format_json_schema_validates() {
        QFETCH(bool, chat);
        QFETCH(bool, stream);
        QFETCH(int, schema);
        const json schema_json = json::parse(schema == 0 ? kPersonSchema : kShapesSchema);
        const auto ordered_schema = test::ordered_json::parse(schema == 0 ? kPersonSchema : kShapesSchema);
        for (int seed = 0; seed < 4; ++seed) {
            json body = {{"max_tokens", 200},
                         {"temperature", 1.0},
                         {"seed", seed},
                         {"n", 2},
                         {"stream", stream},
                         {"response_format",
                          {{"type", "json_schema"},
                           {"json_schema", {{"name", "answer"}, {"strict", true}, {"schema", schema_json}}}}}};
            if (chat) {
                body["messages"] = {{{"role", "user"}, {"content", "Describe a friend as JSON."}}};
            } else {
                body["prompt"] = "Lily and her friend";
            }
            const auto res = post(chat ? "/v1/chat/completions" : "/v1/completions", body);
            QVERIFY(res);
            QCOMPARE(res->status, 200);
            bool ok = false;
            const auto texts = choice_texts(res->body, stream, chat, &ok);
            QVERIFY(ok);
            QCOMPARE(texts.size(), size_t(2));
            for (const auto& [index, text] : texts) {
                const auto value = test::ordered_json::parse(text, nullptr, false);
                QVERIFY2(!value.is_discarded(), text.c_str());
                const std::string error = test::validate_json(value, ordered_schema, ordered_schema);
                QVERIFY2(error.empty(), (error + " in " + text).c_str());
            }
            if (!stream) {
                const json whole = json::parse(res->body);
                for (const json& c : whole["choices"]) {
                    QCOMPARE(c["finish_reason"].get<std::string>(), std::string("stop"));
                }
            }
        }
    }

    // JSON mode: any JSON object. The tiny stories model never closes its strings within max_tokens, so
    // the answers are checked as JSON *prefixes*: nlohmann's parser finds nothing wrong before the end of
    // the text (it fails only for want of more input); an answer the grammar completed ("stop") must parse
    // whole as an object.
    void response_format_json_object_gives_objects() {
        for (int seed = 0; seed < 6; ++seed) {
            const json body = {{"messages", {{{"role", "user"}, {"content", "Reply in JSON."}}}},
                               {"max_tokens", 60},
                               {"temperature", 1.0},
                               {"seed", seed},
                               {"response_format", {{"type", "json_object"}}}};
            const auto res = post("/v1/chat/completions", body);
            QVERIFY(res);
            QCOMPARE(res->status, 200);
            const json choice = json::parse(res->body)["choices"][0];
            const std::string text = choice["message"]["content"].get<std::string>();
            QVERIFY2(!text.empty() && text[0] == '{', text.c_str());
            try {
                const json value = json::parse(text);
                QVERIFY2(value.is_object(), text.c_str());
            } catch (const json::parse_error& e) {
                QVERIFY2(choice["finish_reason"] == "length", text.c_str());
                QVERIFY2(e.byte >= text.size(), (std::string(e.what()) + " in " + text).c_str());
            }
        }
    }

    void invalid_schema_is_400_naming_the_pointer() {
        const json body = {{"messages", {{{"role", "user"}, {"content", "hi"}}}},
                           {"response_format",
                            {{"type", "json_schema"},
                             {"json_schema",
                              {{"name", "broken"},
                               {"schema", {{"type", "object"},
                                           {"properties", {{"tags", {{"type", "array"}, {"items", {{"type", 7}}}}}}}}}}}}}};
        const auto res = post("/v1/chat/completions", body);
        verify_error(res, 400, "response_format.json_schema.schema", "invalid_json_schema");
        const std::string message = json::parse(res->body)["error"]["message"].get<std::string>();
        QVERIFY2(message.find("/properties/tags/items/type") != std::string::npos, message.c_str());
        verify_error(post("/v1/completions", {{"prompt", "x"}, {"response_format", {{"type", "yaml"}}}}), 400,
                     "response_format.type");
    }

    // A non-streamed request writes nothing until it is done; its client giving up (read timeout) must
    // still cancel it and free its blocks, long before its max_tokens.
    void non_streamed_client_disconnect_cancels() {
        const json before = wait_idle();
        step_delay_us_ = 5000;  // 200 tokens now take more than a second
        auto c = client();
        c->set_read_timeout(0, 300000);  // gives up after 0.3 s and closes the connection
        const auto res = c->Post("/v1/completions",
                                 json({{"prompt", "Once upon a time"}, {"max_tokens", 200}, {"temperature", 0}}).dump(),
                                 "application/json");
        QVERIFY(!res);
        QCOMPARE(res.error(), httplib::Error::Read);
        c.reset();
        const json after = wait_idle();
        step_delay_us_ = 0;
        QCOMPARE(after["requests"]["disconnected"].get<int>() - before["requests"]["disconnected"].get<int>(), 1);
        QCOMPARE(after["requests"]["cancelled"].get<int>() - before["requests"]["cancelled"].get<int>(), 1);
        QCOMPARE(after["kv_cache"]["blocks_used"].get<int>(), 0);
        QVERIFY(after["tokens"]["generated"].get<int>() - before["tokens"]["generated"].get<int>() < 150);
    }

    void client_disconnect_cancels_and_frees_blocks() {
        const json before = wait_idle();
        step_delay_us_ = 3000;  // 200 tokens now take more than half a second
        httplib::Request req;
        req.method = "POST";
        req.path = "/v1/completions";
        req.set_header("Authorization", std::string("Bearer ") + kKey);
        req.set_header("Content-Type", "application/json");
        req.body = json({{"prompt", "Once upon a time"}, {"max_tokens", 200}, {"temperature", 0}, {"stream", true}}).dump();
        std::string received;
        req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
            received.append(data, n);
            return received.find("\"text\"") == std::string::npos;  // hang up after the first chunk
        };
        const auto res = client()->send(req);
        QVERIFY(!res);  // the client cancelled the transfer
        QCOMPARE(res.error(), httplib::Error::Canceled);
        QVERIFY(received.find("data: ") != std::string::npos);
        const json after = wait_idle();
        step_delay_us_ = 0;
        QCOMPARE(after["requests"]["disconnected"].get<int>() - before["requests"]["disconnected"].get<int>(), 1);
        QCOMPARE(after["requests"]["cancelled"].get<int>() - before["requests"]["cancelled"].get<int>(), 1);
        QCOMPARE(after["kv_cache"]["blocks_used"].get<int>(), 0);
        // It stopped long before its 200 tokens.
        QVERIFY(after["tokens"]["generated"].get<int>() - before["tokens"]["generated"].get<int>() < 150);
    }

    void two_hundred_concurrent_requests_all_complete() {
        const json before = wait_idle();
        constexpr int kRequests = 200;
        std::vector<int> status(kRequests, 0);
        std::vector<std::string> texts(kRequests);
        std::vector<std::thread> threads;
        for (int i = 0; i < kRequests; ++i) {
            threads.emplace_back([&, i] {
                const bool stream = i % 2 == 1;
                const json body = {{"prompt", "Story number " + std::to_string(i) + ": once"},
                                   {"max_tokens", 4 + i % 5},
                                   {"temperature", 0},
                                   {"stream", stream}};
                const auto res = post("/v1/completions", body);
                if (!res) {
                    status[i] = -static_cast<int>(res.error());  // -4: read error, -2: connection...
                    return;
                }
                status[i] = res->status;
                if (!stream) {
                    texts[i] = json::parse(res->body)["choices"][0]["finish_reason"].get<std::string>();
                } else if (res->body.size() >= 14 && res->body.compare(res->body.size() - 14, 14, "data: [DONE]\n\n") == 0) {
                    texts[i] = "length";
                }
            });
        }
        for (auto& t : threads) t.join();
        for (int i = 0; i < kRequests; ++i) {
            QCOMPARE(status[i], 200);
            QCOMPARE(texts[i], std::string("length"));
        }
        const json after = wait_idle();
        QCOMPARE(after["requests"]["finished"].get<int>() - before["requests"]["finished"].get<int>(), kRequests);
        QCOMPARE(after["requests"]["errors"].get<int>(), before["requests"]["errors"].get<int>());
        QCOMPARE(after["kv_cache"]["blocks_used"].get<int>(), 0);
    }
};

QTEST_GUILESS_MAIN(TestOpenAiServer)
#include "tst_openai_server.moc"
