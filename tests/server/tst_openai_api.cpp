// The OpenAI request rules and response shapes on their own (no sockets): defaults, ranges, the forms a
// field may take, and the JSON a client reads back.
#include <QtTest>

#include "peregrine/grammar.h"
#include "server/openai_api.h"
#include "server/openai_server.h"
#include "support/test_paths.h"

using namespace peregrine;
using namespace peregrine::server;
using nlohmann::json;

class TestOpenAiApi : public QObject {
    Q_OBJECT

private:
    LoadedModel loaded_;
    ApiContext ctx_;

    ApiRequest parse(Endpoint e, const json& body) const { return parse_request(e, body.dump(), ctx_); }

    // Expects an ApiError with this status and param.
    void refused(Endpoint e, const json& body, int status, const std::string& param) const {
        try {
            parse(e, body);
            QFAIL(qPrintable(QString("accepted: %1").arg(QString::fromStdString(body.dump()))));
        } catch (const ApiError& err) {
            QCOMPARE(err.status(), status);
            const json b = err.body();
            if (param.empty()) {
                QVERIFY(b["error"]["param"].is_null());
            } else {
                QCOMPARE(b["error"]["param"].get<std::string>(), param);
            }
            QVERIFY(!b["error"]["message"].get<std::string>().empty());
        }
    }

    static json chat(const std::string& text) { return {{"messages", {{{"role", "user"}, {"content", text}}}}}; }

private slots:
    void initTestCase() {
        loaded_ = LoadedModel::load(test::model_path("stories260K-f32.gguf"));
        ctx_.model = &loaded_;
        ctx_.model_id = "stories260K-f32";
        ctx_.n_ctx = 128;
        ctx_.limits.max_tokens = 100;
        ctx_.limits.max_n = 4;
    }

    void defaults_follow_openai() {
        const ApiRequest c = parse(Endpoint::Completions, {{"prompt", "Once upon a time"}});
        QCOMPARE(c.engine.max_tokens, 16);  // the completions API's default
        QCOMPARE(c.engine.sampling.temperature, 1.0f);
        QCOMPARE(c.engine.sampling.top_p, 1.0f);
        QCOMPARE(c.engine.sampling.top_k, 0);
        QCOMPARE(c.engine.sampling.min_p, 0.0f);
        QCOMPARE(c.engine.sampling.seed, kSeedFromOs);
        QCOMPARE(c.engine.n, 1);
        QVERIFY(!c.stream);
        QCOMPARE(c.engine.prompt, loaded_.tokenize_prompt("Once upon a time"));

        const ApiRequest h = parse(Endpoint::ChatCompletions, chat("hi"));
        const int n_prompt = static_cast<int>(h.engine.prompt.size());
        QCOMPARE(h.engine.max_tokens, std::min(100, 128 - n_prompt));  // chat: as many as fit
        QCOMPARE(h.engine.prompt, loaded_.tokenize_chat({{"user", "hi"}}));
    }

    void fields_in_all_their_forms() {
        json body = chat("hi");
        body["messages"] = {{{"role", "developer"}, {"content", "Be brief."}},
                            {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "h"}}, {{"type", "text"}, {"text", "i"}}}}}};
        body["max_completion_tokens"] = 7;
        body["max_tokens"] = 50;  // the newer name wins
        body["stop"] = "END";
        body["seed"] = 42;
        body["stream"] = true;
        body["stream_options"] = {{"include_usage", true}};
        body["top_p"] = 0;  // only the most likely token
        const ApiRequest r = parse(Endpoint::ChatCompletions, body);
        QCOMPARE(r.engine.prompt, loaded_.tokenize_chat({{"system", "Be brief."}, {"user", "hi"}}));
        QCOMPARE(r.engine.max_tokens, 7);
        QCOMPARE(r.engine.stop_strings, std::vector<std::string>{"END"});
        QCOMPARE(r.engine.sampling.seed, uint64_t(42));
        QCOMPARE(r.engine.sampling.temperature, 0.0f);
        QVERIFY(r.stream);
        QVERIFY(r.include_usage);

        const ApiRequest ids = parse(Endpoint::Completions, {{"prompt", {1, 403, 407}}, {"stop", {"a", "", "b"}},
                                                             {"model", "stories260K-f32.gguf"}, {"top_k", 5}});
        QCOMPARE(ids.engine.prompt, (std::vector<int32_t>{1, 403, 407}));
        QCOMPARE(ids.engine.stop_strings, (std::vector<std::string>{"a", "b"}));
        QCOMPARE(ids.engine.sampling.top_k, 5);
        const ApiRequest one = parse(Endpoint::Completions, {{"prompt", {"Once"}}, {"n", 4}, {"temperature", nullptr}});
        QCOMPARE(one.engine.n, 4);
        QCOMPARE(one.engine.sampling.temperature, 1.0f);  // null means "not given"
    }

    void bad_values_name_their_field() {
        refused(Endpoint::Completions, {{"prompt", "x"}, {"max_tokens", 0}}, 400, "max_tokens");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"max_tokens", 101}}, 400, "max_tokens");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"max_tokens", 1.5}}, 400, "max_tokens");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"temperature", -0.1}}, 400, "temperature");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"top_p", 1.5}}, 400, "top_p");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"presence_penalty", 3}}, 400, "presence_penalty");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"n", 5}}, 400, "n");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"seed", "abc"}}, 400, "seed");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"stream", "yes"}}, 400, "stream");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"stop", {"a", "b", "c", "d", "e"}}}, 400, "stop");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"stop", std::string(300, 'x')}}, 400, "stop");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"logprobs", true}}, 400, "logprobs");
        refused(Endpoint::Completions, {{"prompt", 12}}, 400, "prompt");
        refused(Endpoint::Completions, {{"prompt", json::array()}}, 400, "prompt");
        refused(Endpoint::Completions, {{"prompt", {1, -1}}}, 400, "prompt");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"model", 7}}, 400, "model");
        refused(Endpoint::Completions, {{"prompt", "x"}, {"model", "llama"}}, 404, "model");
        refused(Endpoint::ChatCompletions, {{"messages", "hi"}}, 400, "messages");
        refused(Endpoint::ChatCompletions, {{"messages", {{{"role", "wizard"}, {"content", "x"}}}}}, 400,
                "messages[0].role");
        refused(Endpoint::ChatCompletions,
                {{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}, {"image_url", "x"}}}}}}}}, 400,
                "messages[0].content");
        json tools = chat("hi");
        tools["tools"] = {{{"type", "function"}}};
        refused(Endpoint::ChatCompletions, tools, 400, "tools");
        std::string long_text;
        for (int i = 0; i < 200; ++i) long_text += " word";
        refused(Endpoint::ChatCompletions, chat(long_text), 400, "messages");
        try {
            parse_request(Endpoint::ChatCompletions, "{\"messages\": ", ctx_);
            QFAIL("malformed JSON accepted");
        } catch (const ApiError& e) {
            QCOMPARE(e.status(), 400);
            QCOMPARE(e.body()["error"]["type"].get<std::string>(), std::string("invalid_request_error"));
        }
    }

    void response_format_becomes_a_grammar() {
        json text = chat("hi");
        text["response_format"] = {{"type", "text"}};
        QVERIFY(!parse(Endpoint::ChatCompletions, text).engine.grammar);
        QVERIFY(!parse(Endpoint::ChatCompletions, chat("hi")).engine.grammar);
        json object = chat("hi");
        object["response_format"] = {{"type", "json_object"}};
        const auto any = parse(Endpoint::ChatCompletions, object).engine.grammar;
        QVERIFY(any);
        GrammarMatcher m(any, std::make_shared<GrammarVocabulary>(*loaded_.vocab));
        QVERIFY(m.accept_text("{\"a\":[1,{\"b\":null}]}"));
        QVERIFY(m.finished());
        json schema = {{"prompt", "x"},
                       {"response_format",
                        {{"type", "json_schema"},
                         {"json_schema",
                          {{"name", "person"},
                           {"strict", true},
                           {"schema", {{"type", "object"},
                                       {"properties", {{"age", {{"type", "integer"}}}}},
                                       {"required", {"age"}}}}}}}}};
        const auto person = parse(Endpoint::Completions, schema).engine.grammar;
        QVERIFY(person);
        GrammarMatcher p(person, std::make_shared<GrammarVocabulary>(*loaded_.vocab));
        QVERIFY(!p.accept_text("{\"name\""));
        QVERIFY(p.accept_text("{\"age\":42}"));
        QVERIFY(p.finished());
    }

    void bad_response_formats_are_400_with_the_pointer() {
        json rf = chat("hi");
        rf["response_format"] = "json";
        refused(Endpoint::ChatCompletions, rf, 400, "response_format");
        rf["response_format"] = {{"type", "xml"}};
        refused(Endpoint::ChatCompletions, rf, 400, "response_format.type");
        rf["response_format"] = {{"type", "json_schema"}};
        refused(Endpoint::ChatCompletions, rf, 400, "response_format.json_schema");
        rf["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", 5}}}};
        refused(Endpoint::ChatCompletions, rf, 400, "response_format.json_schema.schema");
        rf["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", 3}, {"schema", json::object()}}}};
        refused(Endpoint::ChatCompletions, rf, 400, "response_format.json_schema.name");
        // A schema the compiler refuses: the message names the node's JSON pointer.
        rf["response_format"] = {{"type", "json_schema"},
                                 {"json_schema",
                                  {{"name", "person"},
                                   {"schema", {{"type", "object"},
                                               {"properties", {{"age", {{"type", "integr"}}}}}}}}}};
        refused(Endpoint::ChatCompletions, rf, 400, "response_format.json_schema.schema");
        try {
            parse(Endpoint::ChatCompletions, rf);
        } catch (const ApiError& e) {
            const std::string message = e.what();
            QVERIFY2(message.find("/properties/age/type") != std::string::npos, e.what());
            QVERIFY2(message.find("person") != std::string::npos, e.what());
            QCOMPARE(e.body()["error"]["code"].get<std::string>(), std::string("invalid_json_schema"));
        }
    }

    void responses_have_the_openai_shape() {
        const ResponseHeader h{"chatcmpl-1", 1700000000, "m"};
        const json whole = response_json(Endpoint::ChatCompletions, h, {{"Hello", "stop"}, {"Hi", "length"}}, {7, 3, 4});
        QCOMPARE(whole["object"].get<std::string>(), std::string("chat.completion"));
        QCOMPARE(whole["choices"][1]["index"].get<int>(), 1);
        QCOMPARE(whole["choices"][1]["message"]["content"].get<std::string>(), std::string("Hi"));
        QCOMPARE(whole["choices"][1]["finish_reason"].get<std::string>(), std::string("length"));
        QCOMPARE(whole["usage"]["total_tokens"].get<int>(), 10);
        QCOMPARE(whole["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 4);

        const json first = chunk_json(Endpoint::ChatCompletions, h, 0, true, "", std::nullopt);
        QCOMPARE(first["choices"][0]["delta"]["role"].get<std::string>(), std::string("assistant"));
        QVERIFY(first["choices"][0]["finish_reason"].is_null());
        const json last = chunk_json(Endpoint::ChatCompletions, h, 0, false, "", std::string("stop"));
        QVERIFY(last["choices"][0]["delta"].empty());
        QCOMPARE(last["choices"][0]["finish_reason"].get<std::string>(), std::string("stop"));
        const json text = chunk_json(Endpoint::Completions, h, 2, false, "abc", std::nullopt);
        QCOMPARE(text["object"].get<std::string>(), std::string("text_completion"));
        QCOMPARE(text["choices"][0]["text"].get<std::string>(), std::string("abc"));
        QCOMPARE(text["choices"][0]["index"].get<int>(), 2);
        QVERIFY(usage_chunk_json(Endpoint::ChatCompletions, h, {}).at("choices").empty());

        QCOMPARE(finish_reason(StopReason::ContextFull), std::string("length"));
        QCOMPARE(finish_reason(StopReason::StopString), std::string("stop"));
        // A lone byte from the model must not break the JSON on the wire.
        QCOMPARE(dump(json("a\xff")), std::string("\"a\xEF\xBF\xBD\""));
        QCOMPARE(model_id_from_path("/models/llama-7b.Q4_0.gguf"), std::string("llama-7b.Q4_0"));
    }
};

QTEST_GUILESS_MAIN(TestOpenAiApi)
#include "tst_openai_api.moc"
