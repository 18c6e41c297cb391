// The "structured output" option as an engine grammar: any JSON object, or what a JSON schema allows.
// Compiled grammars are kept by their schema text, so a conversation's every reply does not recompile it.
#pragma once

#include <QString>

#include <map>
#include <memory>
#include <string>

#include "bridge/engine_types.h"

namespace peregrine {
class Grammar;
}

namespace peregrine::ui {

class StructuredOutputGrammars {
public:
    // Null when the option is off. Throws InvalidRequestError naming the schema's line:column or JSON
    // pointer when the schema is invalid.
    std::shared_ptr<const Grammar> grammarFor(const GenerationOptions& options);

private:
    std::map<std::string, std::shared_ptr<const Grammar>> bySchema_;
};

}  // namespace peregrine::ui
