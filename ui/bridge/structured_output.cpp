#include "bridge/structured_output.h"

#include "peregrine/error.h"
#include "peregrine/grammar.h"

namespace peregrine::ui {
namespace {

// A schema of type object without properties compiles to "any JSON object" (any keys, any values).
constexpr const char* kAnyJsonObject = R"({"type": "object"})";

}  // namespace

std::shared_ptr<const Grammar> StructuredOutputGrammars::grammarFor(const GenerationOptions& options) {
    if (options.structured == StructuredOutput::Off) return nullptr;
    const std::string schema =
        options.structured == StructuredOutput::AnyJsonObject ? std::string(kAnyJsonObject) : options.jsonSchema.toStdString();
    if (auto it = bySchema_.find(schema); it != bySchema_.end()) return it->second;
    try {
        auto grammar = Grammar::from_json_schema(schema);
        bySchema_.emplace(schema, grammar);
        return grammar;
    } catch (const GrammarError& error) {
        throw InvalidRequestError(std::string("structured output: the JSON schema is not usable: ") + error.what());
    }
}

}  // namespace peregrine::ui
